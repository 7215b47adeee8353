"""Presentation of computed results as text: method colours, Markdown/LaTeX tables, `claims.md`."""
