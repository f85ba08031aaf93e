"""Download and extract the voc2007 dataset (optional; the course runs without it).

python data_scripts/voc2007.py [--root DIR] [--mirror URL] [--hash FILE=ALGO:HEX]
"""

import sys

from visioncourse.data.real import main

if __name__ == "__main__":
    raise SystemExit(main(["voc2007", *sys.argv[1:]]))
