"""The thin CLI: parse, call one library function, render. Each module registers its commands."""
