// A small residual block trained for a few steps on random data, from a plain Node script.
// Run from the project root after set-up: node examples/residual-block.mjs
import { nn, torch } from 'resnets';

class ResidualBlock extends nn.Module {
  constructor(channels) {
    super();
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(channels, channels, 3, { padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new nn.BatchNorm2d(channels));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(channels, channels, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new nn.BatchNorm2d(channels));
  }
  forward(x) {
    const out = this.bn1.call(this.conv1.call(x)).relu();
    return this.bn2.call(this.conv2.call(out)).add(x).relu();
  }
}

class TinyNet extends nn.Module {
  constructor(classes) {
    super();
    this.stem = this.registerModule('stem', new nn.Conv2d(3, 16, 3, { padding: 1 }));
    this.block = this.registerModule('block', new ResidualBlock(16));
    this.pool = this.registerModule('pool', new nn.AdaptiveAvgPool2d(1));
    this.fc = this.registerModule('fc', new nn.Linear(16, classes));
  }
  forward(x) {
    return this.fc.call(this.pool.call(this.block.call(this.stem.call(x).relu())).flatten(1));
  }
}

torch.manualSeed(0);
const model = new TinyNet(4);
const images = torch.randn([32, 3, 16, 16]).keep();
const labels = torch.randint(0, 4, [32]).keep();
const learningRate = 0.1;

for (let step = 1; step <= 30; step++) {
  const loss = torch.tidy(() => {
    model.zeroGrad();
    const loss = torch.crossEntropy(model.call(images), labels);
    loss.backward();
    torch.noGrad(() => {
      for (const parameter of model.parameters()) parameter.sub_(parameter.grad, learningRate);
    });
    return loss.item();
  });
  if (step === 1 || step % 5 === 0) console.log(`step ${String(step).padStart(2)}  loss ${loss.toFixed(4)}`);
}
console.log(`live tensors: ${torch.memory().liveTensors} (the model's parameters and buffers, and the data)`);
