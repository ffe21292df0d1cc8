# PyTorch's answers for test/engine-autograd-hooks.test.ts: torch.autograd.grad (first
# and second order), retain_grad on an intermediate, and a module's full backward hook,
# on fixed inputs and weights. Prints one JSON object.
import json

import torch

torch.manual_seed(3)
x = torch.randn(2, 3, requires_grad=True)
w = torch.randn(3, requires_grad=True)

y = (x.pow(3) * w).sum()
gx, gw = torch.autograd.grad(y, [x, w], create_graph=True)
(ggx,) = torch.autograd.grad(gx.sum(), [x])

h = x * w
h.retain_grad()
h.tanh().sum().backward()

net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
seen = {}
def hook(module, grad_input, grad_output):
    seen['gradInput'] = grad_input[0].tolist()
    seen['gradOutput'] = grad_output[0].tolist()
net[2].register_full_backward_hook(hook)
inputs = torch.randn(5, 3)
net(inputs).pow(2).sum().backward()

print(json.dumps({
    'x': x.tolist(), 'w': w.tolist(),
    'gradX': gx.tolist(), 'gradW': gw.tolist(), 'gradGradX': ggx.tolist(),
    'retained': h.grad.tolist(),
    'net': {k: v.tolist() for k, v in net.state_dict().items()},
    'inputs': inputs.tolist(),
    'hook': seen,
}))
