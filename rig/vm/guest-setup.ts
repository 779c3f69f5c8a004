// Kernel knobs the rig sets in every guest, as data: hang detectors always, memory-error detection unless --no-debug.

/** Always on: arm the kernel's own lockup and hung-task detectors, print everything to the console. */
export const DETECTOR_CMDLINE: readonly string[] = [
  'sysctl.kernel.hung_task_timeout_secs=5',
  'sysctl.kernel.hung_task_warnings=-1',
  'sysctl.kernel.watchdog_thresh=3',
  'sysctl.kernel.softlockup_all_cpu_backtrace=0',
  'sysctl.kernel.panic_on_oops=0',
  'sysctl.kernel.printk=7',
];

/**
 * Memory-error detection that needs no kernel rebuild (--no-debug turns it off): SLUB red zones,
 * poisoning and free-list checks on every cache; KFENCE sampling where the kernel has KFENCE.
 */
export const DEBUG_CMDLINE: readonly string[] = ['slub_debug=FZPU', 'kfence.sample_interval=10'];

/** Extra kernel command line for a guest. */
export function guestCmdline(debug: boolean): string[] {
  return [...DETECTOR_CMDLINE, ...(debug ? DEBUG_CMDLINE : [])];
}

/**
 * Shell run in the guest after a scenario when debugging: validate every kmalloc slab so that
 * corruption left behind by the module is reported now, inside the scenario that caused it.
 */
export const SLAB_VALIDATE_SCRIPT =
  'for f in /sys/kernel/slab/kmalloc-*/validate /sys/kernel/slab/skbuff*/validate; do [ -w "$f" ] && echo 1 > "$f"; done; true';

/** kmemleak's control file (kernels built with DEBUG_KMEMLEAK: bookworm-6.1-debug). */
export const KMEMLEAK = '/sys/kernel/debug/kmemleak';

/**
 * After a scenario, on a kernel with kmemleak: one scan. The debug image boots with
 * kmemleak.min_age_ms=0 (its patch; stock 6.1 waits 5 s before reporting an object) and
 * kmemleak.verbose=1, so each new leak is printed to the kernel log read right after, and charged
 * to this scenario. Nothing happens on kernels without kmemleak.
 */
export const LEAK_SCAN_SCRIPT = `if [ -w ${KMEMLEAK} ]; then echo scan > ${KMEMLEAK}; fi; true`;

/**
 * Before the snapshot: scan once and mark what the boot left unreferenced as known ("clear"), so
 * the kernel's own objects are never reported in a scenario.
 */
export const LEAK_BASELINE_SCRIPT = `if [ -w ${KMEMLEAK} ]; then echo scan > ${KMEMLEAK}; echo clear > ${KMEMLEAK}; fi; true`;

/** Run after each scenario with debugging on, in the command that reads the kernel log. */
export const POST_SCENARIO_SCRIPT = `${SLAB_VALIDATE_SCRIPT}; ${LEAK_SCAN_SCRIPT}`;
