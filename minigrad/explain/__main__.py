"""``python -m minigrad.explain conv2d --input-shape 1,1,5,5 --kernel 3 --html out.html``"""
from ._html import main

raise SystemExit(main())
