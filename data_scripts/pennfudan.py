"""Download and extract the pennfudan dataset (optional; the course runs without it).

python data_scripts/pennfudan.py [--root DIR] [--mirror URL] [--hash FILE=ALGO:HEX]
"""

import sys

from visioncourse.data.real import main

if __name__ == "__main__":
    raise SystemExit(main(["pennfudan", *sys.argv[1:]]))
