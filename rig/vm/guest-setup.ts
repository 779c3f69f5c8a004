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
