"""`python -m agent ...`: the same as the `dissect` command."""
from agent.cli_main import console_main

console_main()
