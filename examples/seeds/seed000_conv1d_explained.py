"""Seed 000, "Convolution Explained" (krishan): Conv1d + MaxPool1d, then the first output
column recomputed by hand from the layer's weights.

Every listing below is the document's code, unchanged; it runs with ``import minigrad as
torch`` (see ``_listing.py``).  The random input and weights come from minigrad's generator,
so the numbers differ from the document's; the shapes, and the fact that the by-hand sum
equals the convolution's first output column, do not.

    python examples/seeds/seed000_conv1d_explained.py
"""
from _listing import run_listings

# ---- the document's listings, verbatim --------------------------------------------------------
IMPORT = """\
import torch
"""

APPLY_CONVOLUTION = """\

kernel_size=4 #the filter spans these many tokens at once.
max_input_length = 11
input_channels = 2 #Embedding depth
output_channels = 3
number_of_examples = 1

data = torch.randn((number_of_examples, input_channels ,max_input_length))
conv = torch.nn.Conv1d(input_channels, output_channels, kernel_size)
print(data)
cd = conv(data)
mp = torch.nn.MaxPool1d(2)
mpcd = mp(cd)

print('conv output = ',cd)

print('maxpool = ', mpcd)
print('\\nInput shape = {}.\\nConvolution output shape = {}\\nMaxpool output shape = {}'.format(data.shape, cd.shape, mpcd.shape))
"""

EXTRACT_PARAMETERS = """\
params = [param for param in conv.parameters()]
print ('W(params[0]),B(params[1]) = ',[p.shape for p in params])
"""

BY_HAND = """\
mul = data[:,:,:kernel_size]* params[0]#W for all output channels
mul=mul.data.squeeze() #output_channel, input channel, kernel_size #same as params

print('multiplication output shape = ',mul.shape)
print('summing across all dimensions except output channel' )
#sum across kernel size and channels 
mul.sum(dim=(1,2))+params[1] #B for all output channels
"""

FIRST_WINDOW = """\
data[:,:,:kernel_size]
"""

SUM_WITHOUT_BIAS = """\
mul.sum(dim=(1,2))
"""

LISTINGS = [
    ("import", IMPORT),
    ("Apply pytorch convolution", APPLY_CONVOLUTION),
    ("Extract parameters", EXTRACT_PARAMETERS),
    ("Verify by applying kernel weights manually", BY_HAND),
    ("The first window of the input", FIRST_WINDOW),
    ("The sum without the bias", SUM_WITHOUT_BIAS),
]


def main(lib="minigrad", seed=0):
    """Run the listings in order on ``lib``; return the notebook's namespace."""
    ns = run_listings(LISTINGS, lib, seed)
    # What the document concludes: the by-hand sum is the first column of conv(data).
    by_hand = ns["mul"].sum(dim=(1, 2)) + ns["params"][1]
    first_column = ns["cd"][0, :, 0]
    print("\n## (the document's point)")
    print("by hand == conv(data)[0, :, 0]:", bool((by_hand - first_column).abs().max() < 1e-5))
    return ns


if __name__ == "__main__":
    main()
