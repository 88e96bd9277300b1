"""Output formats of `guard audit`: ``text`` (people), ``json`` (scripts), ``sarif`` (CI code
scanning, SARIF 2.1.0). Each exposes ``render(result, findings) -> str``."""
