"""`python -m sent.tools TOOL ARGS...`, what bin/TOOL runs."""

from sent.tools import main

main()
