"""Download and extract the oxford_pets dataset (optional; the course runs without it).

python data_scripts/oxford_pets.py [--root DIR] [--mirror URL] [--hash FILE=ALGO:HEX]
"""

import sys

from visioncourse.data.real import main

if __name__ == "__main__":
    raise SystemExit(main(["oxford_pets", *sys.argv[1:]]))
