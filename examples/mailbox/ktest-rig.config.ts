// The mailbox example's project file: what `npx ktest-rig` tests in this repository.
import { defineConfig } from 'ktest-rig';

export default defineConfig({
  module: '.',
  scenarios: ['scenarios.ts'],
  programs: ['tests/mailbox-test.c'],
  moduleParams: { capacity: 256 },
  images: ['bookworm-6.1'],
  allowedReports: [
    {
      title: 'WARNING in mailbox_ioctl',
      reason: 'RESET with sleeping readers is a caller bug the driver warns about; reset-while-reading does it on purpose',
    },
  ],
});
