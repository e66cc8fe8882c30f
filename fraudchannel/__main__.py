"""`python -m fraudchannel`: the operator's command line."""

from fraudchannel.cli import main

if __name__ == "__main__":
    main()
