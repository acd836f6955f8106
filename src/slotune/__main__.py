from slotune.cli.main import main

main()
