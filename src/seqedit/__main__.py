from seqedit.client.cli import main

main()
