// The table of kernel report kinds: one row per crash class (header, title, fatality, what it absorbs).

/** What a title builder sees: the header match and the report's lines (timestamps stripped). */
export interface TitleInput {
  readonly match: RegExpMatchArray;
  readonly lines: readonly string[];
}

/** One kind of kernel report. Adding a detector is adding a row; the first matching row wins. */
export interface ReportPattern<Kind extends string = string> {
  /** Stable kind name (KernelReport.kind): the CrashKind type is the union of the rows' kinds. */
  readonly kind: Kind;
  /** Matched against each line with its timestamp stripped. */
  readonly header: RegExp;
  /** Title prefix; the parser appends " in <first interesting frame>" when it finds one. */
  readonly title: (input: TitleInput) => string;
  /** Symbol named by the header itself ("... in foo+0x1/0x2"), preferred over the stack's frames. */
  readonly headerFrame?: (match: RegExpMatchArray) => string | undefined;
  /** The kernel stops after this report (nothing more will come from the guest). */
  readonly fatal: boolean;
  /** Lines that match `header` but are not reports of this kind. */
  readonly suppress?: RegExp;
  /**
   * This header is a continuation when a report of one of these kinds ('any': of any kind) is open and
   * started at most `attachWithin` lines earlier: the line joins that report instead of opening one.
   */
  readonly attachTo?: readonly Kind[] | 'any';
  readonly attachWithin?: number;
  /** Panic consequences: join the last report (even if it ended) when it ended at most this many lines ago. */
  readonly consequenceOf?: RegExp;
  /** Line that ends this report (inclusive); default: the "---[ end trace" / "---[ end Kernel panic" markers. */
  readonly end?: RegExp;
  /** The report ends with its first stack trace (no end marker is printed). */
  readonly endAfterTrace?: boolean;
  /** Line that starts the stack trace to parse; default "Call Trace:" / "Call trace:". */
  readonly traceStart?: RegExp;
  /** Frames that are generic for this kind, on top of the global list (never used in titles). */
  readonly skip?: RegExp;
  /**
   * The frame at the top says nothing (a stack overflow trips wherever the stack ran out): the title
   * names the recursing function, the first frame of a repeated cycle (a module's own first).
   */
  readonly titleFromRecursion?: boolean;
}

/** Symbol of "foo+0x1a/0x30" (suffixes like .cold kept; the parser normalises). */
const sym = (s: string | undefined): string | undefined => s?.match(/^([A-Za-z_.$][\w.$]*)\+0x/)?.[1];
const allocators =
  /^(?:kmemleak_alloc\w*|__kmalloc\w*|kmalloc\w*|__kmem_cache_alloc\w*|kmem_cache_alloc\w*|slab_post_alloc_hook|___slab_alloc|__slab_alloc\w*|kvmalloc\w*|__kvmalloc\w*|kmemleak_\w+|__vmalloc\w*|vmalloc\w*|kzalloc\w*|kmemdup\w*|kstrdup\w*|krealloc\w*|kvasprintf\w*|__alloc_pages\w*|alloc_pages\w*|__get_free_pages|kfree|__slab_free|kmem_cache_free|free_debug_processing|alloc_debug_processing|free_to_partial_list|set_freepointer|slab_free_freelist_hook|check_object|check_bytes_and_report|slab_err|object_err|print_trailer|on_freelist|slab_free\w*|do_slab_free|__kmem_cache_free|__do_kmalloc_node)$/;
const sched =
  /^(?:__switch_to\w*|context_switch|__schedule|schedule\w*|io_schedule\w*|__wait_for_common|wait_for_completion\w*|do_wait_for_common|msleep\w*|usleep_range\w*|__mutex_lock\w*|mutex_lock\w*|rwsem_down_\w+|down_\w+|down|__down\w*|wait_woken|__wait_event\w*|prepare_to_wait\w*|__cond_resched|cond_resched)$/;
const timerIrq =
  /^(?:rcu_\w+|print_cpu_stall\w*|check_cpu_stall|update_process_times|tick_\w+|__hrtimer_run_queues|hrtimer_interrupt|__sysvec_\w+|sysvec_\w+|asm_sysvec_\w+|irq_exit_rcu|__irq_exit_rcu|__do_softirq|do_softirq|run_timer_softirq|__run_timers|call_timer_fn|watchdog_timer_fn|nmi_\w+|arch_trigger_\w+|trigger_\w+|dump_cpu_task|sched_show_task|handle_softirqs|lockup_detector_\w+|watchdog_\w+)$/;

/** Short, stable rendering of a header's free text: addresses and long hex numbers elided. */
export function normaliseText(text: string): string {
  return text
    .replace(/\b(?:0x)?(?:ffff[0-9a-f]{12}|[0-9a-f]{16})\b/gi, 'ADDR')
    .replace(/\b0x[0-9a-f]{9,}\b/gi, 'ADDR')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Access type of a KASAN report ("Read of size 8 at addr ..."). */
function accessOf(lines: readonly string[]): string {
  const line = lines.slice(0, 6).find((l) => /^(?:Read|Write) of size/.test(l.trim()));
  return line ? ` ${line.trim().split(' ')[0]}` : '';
}

/** Panic messages that are consequences of a report printed just before. */
export const PANIC_CONSEQUENCE =
  /^(?:Fatal exception(?: in interrupt)?|softlockup: hung tasks|hung_task: blocked tasks|RCU Stall|Hard LOCKUP|Machine halted\.?|.*panic_on_warn set|Fatal hardware error!?|kernel stack overflow|corrupted stack end detected inside scheduler|Oops - BUG: Fatal exception|Attempted to kill init!.*|.*: panic_on_warn set.*)\s*$/;

/** lockdep's own frames and the lock primitives it reports from (never the module's function). */
const lockdepFrames =
  /^(?:lockdep_\w+|__lockdep_\w+|print_\w+|check_\w+|validate_chain|__lock_acquire|lock_acquire\w*|lock_release|__lock_release|lock_is_held_type|mark_lock\w*|mark_usage|mark_held_locks|valid_state|debug_check_no_locks_freed|debug_locks_off|__debug_check_no_obj_freed|lock_acquired|lock_contended|__mutex_lock\w*|mutex_lock\w*|mutex_unlock\w*|__mutex_unlock\w*|__rt_mutex\w*|down_\w+|up_\w+|_raw_\w+|__raw_\w+|do_raw_\w+|rcu_\w+|__rcu_\w+|rcu_lockdep_current_cpu_online|lockdep_rcu_suspicious|kfree|__kmem_cache_free|slab_free\w*|kmem_cache_free|__slab_free|do_slab_free|lock_timer_base|call_timer_fn|__run_timers|run_timer_softirq|__do_softirq|handle_softirqs|irq_exit_rcu|__irq_exit_rcu|sysvec_\w+|asm_sysvec_\w+|__sysvec_\w+|do_softirq\w*)$/;

/** Headers of lockdep's reports (6.1 kernel/locking/lockdep.c), which print no "end trace" line. */
const LOCKDEP =
  /^WARNING: (possible circular locking dependency detected|possible recursive locking detected|inconsistent lock state|possible irq lock inversion dependency detected|bad unlock balance detected!|held lock freed!|suspicious RCU usage|lock held when returning to user space!|Nested lock was not taken|bad contention detected!|[\w-]+-safe -> [\w-]+-unsafe lock order detected|possible circular locking dependency detected)\.?\s*$/;

const ROWS = [
  {
    kind: 'lockdep',
    header: LOCKDEP,
    title: ({ match }) => `lockdep: ${match[1].replace(/!$/, '')}`,
    fatal: false,
    endAfterTrace: true,
    traceStart: /^Call [Tt]race:/,
    skip: new RegExp(`${lockdepFrames.source}|${allocators.source}`),
  },
  {
    kind: 'sleep-in-atomic',
    header: /^BUG: sleeping function called from invalid context at (\S+)/,
    title: () => 'BUG: sleeping function called from invalid context',
    fatal: false,
    endAfterTrace: true,
    skip: new RegExp(`^(?:__might_resched|__might_sleep|might_sleep\\w*|__might_fault|might_alloc|__cond_resched\\w*|should_failslab|slab_pre_alloc_hook\\w*)$|${allocators.source}|${sched.source}`),
  },
  {
    kind: 'schedule-atomic',
    header: /^BUG: scheduling while atomic: /,
    title: () => 'BUG: scheduling while atomic',
    fatal: false,
    endAfterTrace: true,
    skip: new RegExp(`^(?:__schedule_bug|schedule_debug)$|${sched.source}`),
  },
  {
    kind: 'kasan',
    header: /^BUG: KASAN: ([\w-]+(?: or [\w-]+)?) in (\S+)/,
    title: ({ match, lines }) => `KASAN: ${match[1]}${accessOf(lines)}`,
    headerFrame: (m) => sym(m[2]),
    fatal: false,
    end: /^={40,}\s*$/,
    skip: /^(?:kasan_\w+|__kasan_\w+|print_report|print_address_description\w*|check_region_inline|kasan_check_range|__asan_\w+|mem(?:cpy|set|move|cmp)|__mem(?:cpy|set|move)\w*|str\w+|__str\w+)$/,
  },
  {
    kind: 'kfence',
    header: /^BUG: KFENCE: ([\w -]+?) in (\S+)/,
    title: ({ match }) => `KFENCE: ${match[1]}`,
    headerFrame: (m) => sym(m[2]),
    fatal: false,
    end: /^={40,}\s*$/,
    traceStart: /^(?:Out-of-bounds|Use-after-free|Invalid free|Invalid read|Invalid write|Corrupted memory)\b/,
    skip: /^(?:kfence_\w+|__kfence_\w+|mem(?:cpy|set|move|cmp)|str\w+)$/,
  },
  {
    kind: 'ubsan',
    header: /^UBSAN: ([\w-]+) in (\S+)/,
    title: ({ match }) => `UBSAN: ${match[1]}`,
    fatal: false,
    end: /^={40,}\s*$/,
    skip: /^(?:ubsan_\w+|__ubsan_\w+)$/,
  },
  {
    kind: 'slab-corruption',
    header: /^BUG ([\w.:()-]+) \((?:Not tainted|Tainted: [^)]*)\): (.+?)\s*$/,
    title: ({ match }) => `BUG ${match[1]}: ${normaliseText(match[2].replace(/\d+/g, 'N'))}`,
    fatal: false,
    endAfterTrace: true,
    skip: allocators,
  },
  {
    kind: 'soft-lockup',
    header: /^(?:watchdog: )?BUG: soft lockup - CPU#\d+ stuck for \d+s!/,
    title: () => 'BUG: soft lockup',
    fatal: false,
    endAfterTrace: true,
    skip: timerIrq,
  },
  {
    kind: 'hard-lockup',
    header: /^(?:(?:NMI )?watchdog: )?Watchdog detected hard LOCKUP on cpu \d+/,
    title: () => 'hard LOCKUP',
    fatal: false,
    endAfterTrace: true,
    skip: timerIrq,
  },
  {
    kind: 'stack-overflow',
    // x86_64 (5.10 names no stack: "BUG: stack guard page was hit at"); arm64 (the overflow stack's report).
    header: /^(?:BUG: (?:(?:TASK|IRQ|NMI|#?\w+) )?stack guard page was hit at |Insufficient stack space to handle exception!)/,
    title: ({ match }) => (match[0].startsWith('Insufficient') ? 'kernel stack overflow' : 'BUG: stack guard page was hit'),
    fatal: false,
    titleFromRecursion: true,
    skip: allocators,
  },
  {
    kind: 'double-fault',
    header: /^(?:traps: )?PANIC: double fault, error_code: 0x[0-9a-f]+/,
    title: () => 'double fault',
    fatal: false,
    titleFromRecursion: true,
    skip: allocators,
  },
  {
    kind: 'null-deref',
    header: /^(?:BUG: kernel NULL pointer dereference, address: |Unable to handle kernel NULL pointer dereference at virtual address )/,
    title: () => 'BUG: kernel NULL pointer dereference',
    fatal: false,
  },
  {
    kind: 'page-fault',
    header: /^(?:BUG: unable to handle (?:page fault for address|kernel paging request at)|Unable to handle kernel paging request at virtual address )/,
    title: () => 'BUG: unable to handle page fault',
    fatal: false,
  },
  {
    kind: 'unable-to-handle',
    header: /^Unable to handle kernel ([\w -]+?) at virtual address /,
    title: ({ match }) => `Unable to handle kernel ${match[1]}`,
    fatal: false,
  },
  {
    kind: 'gpf',
    header: /^(?:Oops: )?general protection fault\b/,
    title: () => 'general protection fault',
    fatal: false,
  },
  {
    kind: 'list-corruption',
    header: /^(list_(?:add|del) (?:corruption|double add))\b/,
    title: ({ match }) => match[1],
    fatal: false,
    skip: /^(?:__list_\w+|list_\w+|__list_del_entry\w*)$/,
  },
  {
    kind: 'refcount',
    header: /^refcount_t: ([\w -]+?)(?:;|\.|$)/,
    title: ({ match }) => `refcount_t: ${match[1]}`,
    fatal: false,
    skip: /^(?:refcount_\w+|__refcount_\w+)$/,
  },
  {
    kind: 'kernel-bug',
    header: /^kernel BUG at \S+:\d+!/,
    title: () => 'kernel BUG',
    fatal: false,
    attachTo: ['list-corruption', 'slab-corruption', 'refcount'],
    attachWithin: 6,
    skip: new RegExp(`${allocators.source}|^(?:__list_\\w+)$`),
  },
  {
    kind: 'warning',
    header: /^WARNING: (?:CPU: \d+ (?:UID: \d+ )?PID: \d+ at \S+|\S+:\d+ at)(?:\s+(\S+))?/,
    title: () => 'WARNING',
    headerFrame: (m) => sym(m[1]),
    fatal: false,
    attachTo: ['list-corruption', 'refcount'],
    attachWithin: 6,
    suppress: /^WARNING: (?:stack going in the wrong direction|kernel stack (?:frame pointer|regs)|can't access registers|stack recursion)/,
  },
  {
    kind: 'workqueue-lockup',
    header: /^BUG: workqueue lockup - pool /,
    title: () => 'BUG: workqueue lockup',
    fatal: false,
    endAfterTrace: true,
    skip: /^(?:__switch_to|preempt_schedule\w*|__schedule|schedule\w*|process_scheduled_works|irq_work_queue)$/,
  },
  {
    kind: 'hung-task',
    header: /^INFO: task (\S+):\d+ blocked for more than \d+ seconds/,
    title: () => 'INFO: task hung',
    fatal: false,
    endAfterTrace: true,
    skip: sched,
  },
  {
    kind: 'rcu-stall',
    header: /^(?:rcu: )?INFO: (\w+) (?:self-)?detected stalls? on CPUs?/,
    title: () => 'INFO: rcu detected stall',
    fatal: false,
    endAfterTrace: true,
    // A stalling task that yields (preemptible RCU) is often interrupted in __cond_resched, and its
    // stack is printed by sched_show_task from the timer interrupt.
    skip: new RegExp(`${timerIrq.source}|${sched.source}|^(?:preempt_schedule\\w*)$`),
  },
  {
    kind: 'memory-leak',
    header: /^unreferenced object 0x[0-9a-f]+ \(size \d+\):/,
    title: () => 'memory leak',
    fatal: false,
    endAfterTrace: true,
    traceStart: /^backtrace\b/,
    skip: allocators,
  },
  {
    kind: 'oops',
    header: /^(?:Oops: )?(?:Oops|invalid opcode|stack guard page|double fault|stack segment|divide error|int3|alignment check|coprocessor segment overrun|bounds): (?:[0-9a-f]{4} )?\[#\d+\]|^Oops: [0-9a-f]{4} \[#\d+\]/,
    title: ({ match }) => (/invalid opcode/.test(match[0]) ? 'invalid opcode' : /divide error/.test(match[0]) ? 'divide error' : 'Oops'),
    fatal: false,
    attachTo: 'any',
    attachWithin: 12,
  },
  {
    kind: 'internal-error',
    header: /^Internal error: ([^:]+): [0-9a-f]+ \[#\d+\]/,
    title: ({ match }) => `Internal error: ${match[1]}`,
    fatal: false,
    attachTo: 'any',
    attachWithin: 40,
  },
  {
    kind: 'panic',
    header: /^Kernel panic - not syncing: ?(.*?)\s*$/,
    title: ({ match }) => `Kernel panic - not syncing: ${normaliseText(match[1])}`,
    fatal: true,
    consequenceOf: PANIC_CONSEQUENCE,
    end: /^---\[ end Kernel panic/,
    skip: /^(?:check_panic_on_warn|nmi_panic|vpanic)$/,
  },
  {
    kind: 'bug',
    header: /^BUG: (.+?)\s*$/,
    title: ({ match }) => `BUG: ${normaliseText(match[1].split(/[:,]| at | for /)[0])}`,
    fatal: false,
    suppress: /^BUG: (?:KASAN|KFENCE)/,
  },
] as const satisfies readonly ReportPattern[];

/** The kind of a row of the table. */
export type PatternKind = (typeof ROWS)[number]['kind'];

/** The detector table, in matching order (the first matching row wins). */
export const PATTERNS: readonly ReportPattern<PatternKind>[] = ROWS;

/**
 * Report kinds no console line matches: the rig makes these reports itself ('lost-messages': the kernel
 * overwrote log records before they were read, rig/run/image.ts).
 */
export const RIG_REPORT_KINDS = ['lost-messages'] as const;

/**
 * A kernel report's kind (KernelReport.kind): a row's kind or one the rig reports itself, so a misspelt
 * kind anywhere in the rig does not compile.
 */
export type CrashKind = PatternKind | (typeof RIG_REPORT_KINDS)[number];

/** Frames that are plumbing of every report (exceptions, printing, unwinding, syscall entry, workqueues). */
export const GENERIC_FRAMES =
  /^(?:dump_stack\w*|dump_backtrace\w*|show_stack|show_regs|__show_regs|show_trace_log_lvl|panic|vpanic|__warn|warn_slowpath\w*|report_bug|handle_bug|exc_\w+|asm_exc_\w+|do_error_trap|do_trap|do_int3\w*|die|die_addr|__die\w*|oops_\w+|page_fault_oops|kernelmode_fixup_or_oops|__bad_area_nosemaphore|bad_area_nosemaphore|do_user_addr_fault|do_kern_addr_fault|handle_page_fault|fixup_exception|no_context|ret_from_fork\w*|entry_SYSCALL\w*|do_syscall_64|syscall_exit\w*|__x64_sys_\w+|__ia32_sys_\w+|__arm64_sys_\w+|__se_sys_\w+|__do_sys_\w+|x64_sys_call|kthread|worker_thread|process_one_work|__kthread\w*|el0_svc\w*|el0t_64_\w+|el1h_64_\w+|el1_\w+|el0_\w+|do_el0_svc\w*|invoke_syscall\w*|do_mem_abort|__do_kernel_fault|die_kernel_fault|do_page_fault|do_translation_fault|do_bad_area|bug_handler|brk_handler|call_break_hook|do_debug_exception|arm64_\w+_exception|el1_sync_handler|el1h_64_sync_handler|do_undefinstr|bug_brk_handler|call_el1_break_hook|ret_to_user|__handle_mm_fault|handle_mm_fault|lock_acquire|__lock_acquire|lock_release|_raw_spin_\w+|__raw_spin_\w+|do_raw_spin_\w+|_raw_read_\w+|_raw_write_\w+|__pfx_\w+|print_modules|printk\w*|_printk|vprintk\w*|__unwind_start|unwind_\w+|arch_stack_walk|stack_trace_\w+|set_track\w*|save_stack\w*|__save_stack_trace\w*|show_trace\w*)$/;
