"""The ops torch.jit.trace records for a torchvision model, as JSON lines: op, module path, output shape.

Usage: trace_reference.py MODEL N C H W
The module path is the innermost module the op ran in, dotted as in state-dict keys.
"""
import json
import sys

import torch
import torchvision


def module_path(scope):
    innermost = scope.split('/')[-1]
    return innermost[len('__module.'):] if innermost.startswith('__module.') else ''


def main():
    name, shape = sys.argv[1], [int(s) for s in sys.argv[2:6]]
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, torch.zeros(shape))
    for node in traced.inlined_graph.nodes():
        if not node.kind().startswith('aten::'):
            continue
        output = node.outputsAt(0).type()
        print(json.dumps({'op': node.kind(), 'path': module_path(node.scopeName()), 'shape': output.sizes()}))


if __name__ == '__main__':
    main()
