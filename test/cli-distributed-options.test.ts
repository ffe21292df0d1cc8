// distributedRole: option combinations that cannot mean a run are refused naming the CLI options.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { distributedRole } from '../src/cli/distributed-options.js';
import { resnets } from './helpers/cli.js';

describe('distributed command options', () => {
  it('--nproc refuses --master-addr, which would override the launcher\'s 127.0.0.1', () => {
    assert.throws(() => distributedRole({ nproc: 2, masterAddr: 'hostA' }, {}), /--nproc runs every rank on this machine, meeting at 127\.0\.0\.1; leave out --master-addr hostA/);
    assert.equal(distributedRole({ nproc: 2, masterPort: 29500 }, {}), 'launcher');
  });

  it('--world-size without a rank, or --rank without a world size, names the missing option', () => {
    assert.throws(() => distributedRole({ worldSize: 2 }, {}), /--world-size needs --rank R \(0 to world size - 1\), or the RANK variable/);
    assert.throws(() => distributedRole({}, { WORLD_SIZE: '2' }), /--world-size needs --rank R/);
    assert.throws(() => distributedRole({ rank: 0 }, {}), /--rank 0 needs --world-size N, or the WORLD_SIZE variable/);
    assert.equal(distributedRole({ worldSize: 2 }, { RANK: '1' }), 'rank');
    assert.equal(distributedRole({ rank: 1 }, { WORLD_SIZE: '2' }), 'rank');
    assert.equal(distributedRole({ worldSize: 2, rank: 0 }, {}), 'rank');
    assert.equal(distributedRole({}, { RANK: '0' }), 'single');
  });

  it('--dist-timeout below init\'s minimum is refused by the option parser, before any rank starts', async () => {
    const result = await resnets('train', 'resnet20', '--data', 'fashion-mnist', '--nproc', '2', '--dist-timeout', '0.05');
    assert.equal(result.code, 2, 'a usage error');
    assert.match(result.stderr, /--dist-timeout <s>' argument '0\.05' is invalid\. expected at least 0\.1 seconds/);
    assert.doesNotMatch(result.stderr, /started 2 ranks/);
  });
});
