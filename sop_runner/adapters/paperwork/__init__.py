"""Paperwork in Bahasa Indonesia: Jinja2 templates rendered to Markdown, HTML and PDF."""
