"""archlab's command line: typer commands that parse, call one library function and print."""
