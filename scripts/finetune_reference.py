# A torchvision checkpoint to fine-tune from, for test/train-finetune.test.ts: resnet18
# with torchvision's random initialisation (seeded; 1000 classes), saved with
# torch.save(model.state_dict(), PATH) as torchvision users save theirs.
import sys

import torch
import torchvision

torch.manual_seed(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
model = torchvision.models.resnet18()
torch.save(model.state_dict(), sys.argv[1])
print(model.fc.weight.shape[0])
