"""Where the user's GPU prices come from, by name: the flags and the environment variable naming a prices file.

Apart from slotune.catalog.prices so that a command's --help can name them without loading the price models.
"""

PRICE_FLAG = "--price"
PRICES_FLAG = "--prices"
PRICES_ENV = "SLOTUNE_PRICES"
