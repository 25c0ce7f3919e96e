from ivcplan.cli import main

main()
