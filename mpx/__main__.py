from mpx.cli import main

main()
