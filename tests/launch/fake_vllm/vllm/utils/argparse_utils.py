import argparse


class FlexibleArgumentParser(argparse.ArgumentParser):
    """vLLM's parser class; the fake needs none of its rewriting."""
