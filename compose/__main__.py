from compose.cli import app

app()
