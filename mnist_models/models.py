"""The model zoo: every architecture, and a registry that train_all.py, the demo and the tests loop over.

Every model takes raw MNIST intensities (B, 1, 28, 28) in [0, 1] and returns logits (B, 10);
normalisation and padding happen inside, so every caller feeds the same thing.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081

_REGISTRY = {}  # name -> (builder, one-line description); insertion order is display order


def register_model(description):
    def wrap(builder):
        _REGISTRY[builder.__name__.replace("_", "-")] = (builder, description)
        return builder
    return wrap


def list_models():
    return list(_REGISTRY)


def describe_model(name, **kwargs):
    description = _REGISTRY[_check_name(name)][1]
    return f"{description} ({', '.join(f'{k}={v}' for k, v in kwargs.items())})" if kwargs else description


def create_model(name, **kwargs):
    """A fresh model; kwargs reach its builder (e.g. the FCNs' n_layers for the depth experiment)."""
    return _REGISTRY[_check_name(name)][0](**kwargs)


def _check_name(name):
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; valid names: {', '.join(_REGISTRY)}")
    return name


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


class Normalize(nn.Module):
    """Raw [0, 1] intensities -> MNIST-standardised; optional zero padding to 32x32 first.

    Padding comes before normalising so the border matches the (black) background exactly.
    """
    def __init__(self, pad=0):
        super().__init__()
        self.pad = pad

    def forward(self, x):
        if self.pad:
            x = F.pad(x, (self.pad,) * 4)  # (B,1,28,28) -> (B,1,32,32)
        return (x - MNIST_MEAN) / MNIST_STD


# ---------------------------------------------------------------- fully connected

def fcn_widths(n_layers=10, n_in=784, n_out=10):
    """Hidden widths stepping down evenly from n_in toward n_out: n_layers - 1 of them."""
    step = (n_in - n_out) // n_layers
    return [n_in - i * step for i in range(1, n_layers)]


def fcn(regulariser, n_layers=10):
    layers, width = [Normalize(), nn.Flatten()], 784  # (B,1,28,28) -> (B,784)
    for hidden in fcn_widths(n_layers):
        layers += [nn.Linear(width, hidden), nn.LeakyReLU(), regulariser(hidden)]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, 10))


def mlp(widths, pad=0):
    """Flatten -> Linear/ReLU stack; the last width is the output layer (no ReLU after it)."""
    layers, width = [Normalize(pad), nn.Flatten()], (28 + 2 * pad) ** 2
    for i, out in enumerate(widths):
        layers.append(nn.Linear(width, out))
        if i < len(widths) - 1:
            layers.append(nn.ReLU())
        width = out
    return nn.Sequential(*layers)


@register_model("FCN 784-707-630-…-91-10, Linear→LeakyReLU→BatchNorm blocks")
def fcn_bn(n_layers=10):
    return fcn(nn.BatchNorm1d, n_layers)


@register_model("FCN 784-707-630-…-91-10, Linear→LeakyReLU→Dropout(0.3) blocks")
def fcn_dropout(n_layers=10):
    return fcn(lambda width: nn.Dropout(0.3), n_layers)


@register_model("MLP 784-500-500-10, ReLU")
def mlp_500():
    return mlp([500, 500, 10])


@register_model("MLP 784-128-64-10, ReLU")
def mlp_128():
    return mlp([128, 64, 10])


# ---------------------------------------------------------------- LeNet-5

# LeCun et al. 1998, Table I: which S2 feature maps each C3 map sees.
C3_TABLE = [
    [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 0], [5, 0, 1],
    [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 0], [4, 5, 0, 1], [5, 0, 1, 2],
    [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5],
    [0, 1, 2, 3, 4, 5],
]


class PartialConv(nn.Module):
    """C3: each output map convolves only its own subset of input maps, with its own weights.

    The weights are kept per fan-in (one grouped convolution's worth for the maps with 3, 4 or 6
    inputs), so the layer holds exactly the table's 1,516 parameters. The forward pass scatters them
    into one dense (16, 6, 5, 5) kernel, zero where the table has no connection, and runs a single
    convolution: one kernel instead of four gathers, four convolutions and a shuffle.
    """
    def __init__(self, table, kernel_size=5):
        super().__init__()
        self.groups = nn.ModuleList()  # parameter holders (state-dict names groups.N.*); never called
        order, rows, cols = [], [], []  # output map of each bias; (output, input) map of each weight slice
        for fan_in in sorted({len(inputs) for inputs in table}):
            maps = [i for i, inputs in enumerate(table) if len(inputs) == fan_in]
            self.groups.append(nn.Conv2d(fan_in * len(maps), len(maps), kernel_size, groups=len(maps)))
            order += maps
            rows += [i for i in maps for _ in table[i]]
            cols += [c for i in maps for c in table[i]]
        self.shape = (len(table), max(c for inputs in table for c in inputs) + 1, kernel_size, kernel_size)
        self.register_buffer("rows", torch.tensor(rows), persistent=False)
        self.register_buffer("cols", torch.tensor(cols), persistent=False)
        self.register_buffer("unshuffle", torch.argsort(torch.tensor(order)), persistent=False)

    def dense_weight(self):
        """(16, 6, 5, 5): each map's kernel over the inputs the table gives it, zeros elsewhere."""
        slices = torch.cat([conv.weight.flatten(0, 1) for conv in self.groups])  # (1516 - 16) / 25 = 60 of (5, 5)
        return slices.new_zeros(self.shape).index_put((self.rows, self.cols), slices)

    def forward(self, x):
        bias = torch.cat([conv.bias for conv in self.groups])[self.unshuffle]
        return F.conv2d(x, self.dense_weight(), bias)


class ScaledTanh(nn.Module):
    """LeCun's squashing function f(a) = 1.7159 tanh(2a/3) (1998, Appendix A)."""
    def forward(self, x):
        return 1.7159 * torch.tanh(x * (2 / 3))


@register_model("LeNet-5 (1998): C1 6@5×5, S2, C3 16@5×5 partial table, S4, C5 120, F6 84, F7 10")
def lenet5():
    return nn.Sequential(
        Normalize(pad=2),                                   # (B,1,28,28) -> (B,1,32,32)
        nn.Conv2d(1, 6, 5), nn.MaxPool2d(2), nn.Sigmoid(),  # C1, S2 -> (B,6,14,14)
        PartialConv(C3_TABLE), nn.MaxPool2d(2), nn.Sigmoid(),  # C3, S4 -> (B,16,5,5)
        nn.Conv2d(16, 120, 5), ScaledTanh(), nn.Flatten(),  # C5 -> (B,120)
        nn.Linear(120, 84), ScaledTanh(),                   # F6
        nn.Linear(84, 10),                                  # F7
    )


# ---------------------------------------------------------------- ~60k-parameter MLPs on 32x32

@register_model("MLP 1024-54-47-35-10-39-10 on 32×32 input, ReLU")
def custom_mlp_1():
    return mlp([54, 47, 35, 10, 39, 10], pad=2)


@register_model("MLP 1024-55-35-30-34-10 on 32×32 input, ReLU")
def custom_mlp_2():
    return mlp([55, 35, 30, 34, 10], pad=2)


@register_model("MLP 1024-55-34-33-31-10 on 32×32 input, ReLU")
def custom_mlp_3():
    return mlp([55, 34, 33, 31, 10], pad=2)


@register_model("MLP 1024-55-41-41-10 on 32×32 input, ReLU")
def custom_mlp_4():
    return mlp([55, 41, 41, 10], pad=2)


@register_model("MLP 1024-56-51-10 on 32×32 input, ReLU")
def custom_mlp_5():
    return mlp([56, 51, 10], pad=2)


@register_model("MLP 1024-58-10 on 32×32 input, ReLU")
def custom_mlp_6():
    return mlp([58, 10], pad=2)


# ---------------------------------------------------------------- CNN

class Conv3x3(nn.Conv2d):
    """A 3x3, padding-1 convolution that runs as one matrix multiply when its input map is 2x2.

    There every output sees the whole map, so the layer is a dense linear map over the taps that touch
    it (the cnn's last conv uses 4 of its 9). Same weights and state dict as nn.Conv2d; on a CPU
    oneDNN's backward for such tiny maps is slow (cnn's last two convs: 165 -> 48 ms per step).
    """
    def __init__(self, c_in, c_out, stride=1):
        super().__init__(c_in, c_out, 3, stride=stride, padding=1)

    def forward(self, x):
        if x.shape[-2:] != (2, 2):
            return super().forward(x)
        s = self.stride[0]
        size = 2 // s  # output is 2x2 (stride 1) or 1x1 (stride 2)
        taps = self.weight.permute(0, 2, 3, 1)  # (out, 3, 3, in): a free view of channels_last weights
        # output (p, q) sees input (i, j) through tap (i - p*s + 1, j - q*s + 1): a 2x2 window per output
        w = torch.cat([taps[:, 1 - p * s:3 - p * s, 1 - q * s:3 - q * s]
                       for p in range(size) for q in range(size)])          # (size²·out, 2, 2, in)
        out = F.linear(x.permute(0, 2, 3, 1).flatten(1),                      # (B, 2·2·in), free if NHWC
                       w.flatten(1), self.bias.repeat(size * size))
        return out.view(-1, size, size, self.out_channels).permute(0, 3, 1, 2)  # NHWC-strided (B, out, s, s)


def conv_block(c_in, c_out):
    """Two 3x3 convolutions, the second halving the resolution."""
    return nn.Sequential(
        Conv3x3(c_in, c_out), nn.ReLU(), nn.BatchNorm2d(c_out),
        Conv3x3(c_out, c_out, stride=2), nn.ReLU(), nn.BatchNorm2d(c_out),
    )


@register_model("CNN: 5 blocks of two 3×3 convs (32→64→128→256→512), 512-50-10 head")
def cnn():
    channels = [1, 32, 64, 128, 256, 512]
    return nn.Sequential(
        Normalize(),
        *[conv_block(a, b) for a, b in zip(channels, channels[1:])],  # 28->14->7->4->2->1
        nn.Flatten(),                                                 # (B,512,1,1) -> (B,512)
        nn.Linear(512, 50), nn.ReLU(), nn.BatchNorm1d(50),
        nn.Linear(50, 10),
    )
