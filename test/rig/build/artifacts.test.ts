// Tests the one .ko picker that the guest and host targets share.
import t from 'tap';
import { pickModule } from '../../../rig/build/artifacts.ts';

const ko = (name: string) => ({ name, koPath: `/out/${name}.ko`, sourceDir: '/src' });

t.test('pickModule: the only one, else ktest, else the directory name, else the first', async (t) => {
  t.equal(pickModule([ko('solo')], '/src/x').name, 'solo');
  t.equal(pickModule([ko('helper'), ko('ktest')], '/src/x').name, 'ktest');
  t.equal(pickModule([ko('helper'), ko('mydrv')], '/work/mydrv').name, 'mydrv');
  t.equal(pickModule([ko('a'), ko('b')], '/work/none').name, 'a');
});
