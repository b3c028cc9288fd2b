"""The demo's tabs beyond drawing, one module each; demo.py assembles the page."""
