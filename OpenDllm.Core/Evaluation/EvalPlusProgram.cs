using System.Globalization;
using System.Text;

namespace OpenDllm.Evaluation;

/// <summary>
/// The time limits EvalPlus gives a candidate (evalplus <c>config.py</c> and <c>eval/__init__.py</c>): per input,
/// <c>limit = max(MinTimeLimit, Factor · t_ref)</c> where <c>t_ref</c> is the canonical solution's time on that input;
/// per part (base or plus inputs), everything must finish within <c>min(PerTaskSeconds, Σ limits) + 3</c> seconds.
/// </summary>
/// <param name="MinTimeLimit">Floor of every input's limit in seconds (EvalPlus: 4.0).</param>
/// <param name="Factor">Multiple of the reference time (EvalPlus <c>gt_time_limit_factor</c>: 4.0).</param>
/// <param name="PerTaskSeconds">Cap on one part's summed limits (EvalPlus <c>EVALPLUS_TIMEOUT_PER_TASK</c>: 60).</param>
public sealed record EvalPlusLimits(double MinTimeLimit = 4.0, double Factor = 4.0, double PerTaskSeconds = 60.0)
{
    /// <summary>EvalPlus's defaults.</summary>
    public static EvalPlusLimits Default { get; } = new();

    /// <summary>One input's limit: <c>max(MinTimeLimit, Factor · referenceSeconds)</c>.</summary>
    public double InputLimit(double referenceSeconds) => Math.Max(MinTimeLimit, Factor * referenceSeconds);

    /// <summary>One part's wall-clock budget: <c>min(PerTaskSeconds, Σ InputLimit(tᵢ)) + 3</c> (EvalPlus's timeout adds 1 s, 1 s more
    /// when it collects per-input details, as it does by default, and its join waits 1 s beyond that).</summary>
    public double PartBudget(IEnumerable<double> referenceSeconds) => Math.Min(PerTaskSeconds, referenceSeconds.Sum(InputLimit)) + 3;

    /// <summary>
    /// The sandbox's program clock for an EvalPlus program: the reference run (at most <paramref name="referenceSeconds"/>)
    /// plus both parts' largest budgets. The limits above are enforced inside the program; this clock only stops a
    /// program stuck where Python cannot interrupt it.
    /// </summary>
    public double ProgramClockSeconds(double referenceSeconds = 60) => referenceSeconds + 2 * (PerTaskSeconds + 3) + 5;
}

/// <summary>
/// The Python program that checks one HumanEval+ or MBPP+ sample the way EvalPlus does (differential testing, SPEC §7.2):
/// it runs the canonical solution on the task's <c>base_input</c> and <c>plus_input</c> to get the expected outputs and
/// reference times, then the candidate (<c>prompt + completion</c>) on the same inputs under <see cref="EvalPlusLimits"/>,
/// comparing outputs exactly, or with <c>atol</c> (and <c>rtol</c> 1e-7) for floats, with EvalPlus's special oracles
/// (HumanEval <c>find_zero</c>; MBPP set-equal, not-None and four task-specific ones) and MBPP+'s per-task input
/// conversions (lists back to tuples, sets, complex numbers). The program exits normally exactly when every base and plus
/// input passes; otherwise it fails, printing which part and input failed first.
/// <para>Differences from EvalPlus, on purpose: the expected outputs are computed inside the same sandboxed program
/// (EvalPlus computes them once, unsandboxed, and caches them), so the reference times are measured under the same load
/// as the candidate; an input's time is checked after it returns as well, so a candidate that catches the timeout
/// exception still fails; the sandbox's limits (2 GiB address space, writes only in the sample folder) apply.</para>
/// </summary>
public static class EvalPlusProgram
{
    /// <summary>The program for <paramref name="problem"/> (a HumanEval+ or MBPP+ row) and a completion appended to its prompt.</summary>
    public static string Build(BenchmarkProblem problem, string completion, EvalPlusLimits? limits = null)
    {
        if (problem.EvalPlusRow is null) throw new ArgumentException($"{problem.TaskId}: not an EvalPlus problem", nameof(problem));
        var l = limits ?? EvalPlusLimits.Default;
        string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        var header = new StringBuilder()
            .Append("_EP_ROW = ").Append(PythonString(problem.EvalPlusRow)).Append('\n')
            .Append("_EP_SOLUTION = ").Append(PythonString(problem.Prompt + completion)).Append('\n')
            .Append("_EP_DATASET = ").Append(PythonString(problem.Task == BenchmarkTask.MbppPlus ? "mbpp" : "humaneval")).Append('\n')
            .Append("_EP_MIN_LIMIT = ").Append(Number(l.MinTimeLimit)).Append('\n')
            .Append("_EP_FACTOR = ").Append(Number(l.Factor)).Append('\n')
            .Append("_EP_PER_TASK = ").Append(Number(l.PerTaskSeconds)).Append('\n');
        return header + Harness;
    }

    /// <summary>A Python string literal of <paramref name="text"/> (ASCII only, every other character escaped).</summary>
    static string PythonString(string text)
    {
        var b = new StringBuilder("\"");
        foreach (var rune in text.EnumerateRunes())
        {
            int c = rune.Value;
            if (c == '\\') b.Append("\\\\");
            else if (c == '"') b.Append("\\\"");
            else if (c >= 0x20 && c < 0x7f) b.Append((char)c);
            else if (c <= 0xff) b.Append(CultureInfo.InvariantCulture, $"\\x{c:x2}");
            else if (c <= 0xffff) b.Append(CultureInfo.InvariantCulture, $"\\u{c:x4}");
            else b.Append(CultureInfo.InvariantCulture, $"\\U{c:x8}");
        }
        return b.Append('"').ToString();
    }

    const string Harness = """

import json as _ep_json, math as _ep_math, time as _ep_time, copy as _ep_copy, sys as _ep_sys, threading as _ep_threading, _thread as _ep_thread, io as _ep_io, contextlib as _ep_contextlib

_EP = _ep_json.loads(_EP_ROW)
_EP_ENTRY = _EP["entry_point"]
_EP_ATOL = _EP.get("atol") or 0

# MBPP+ stores some inputs in JSON shapes that differ from the Python values the tasks take (evalplus data/mbpp.py).
def _ep_tuples(v):
    return tuple(_ep_tuples(x) for x in v) if isinstance(v, list) else v
_EP_MBPP_RULES = [
    ({2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809},
     lambda inp: [tuple(a) for a in inp]),
    ({63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780},
     lambda inp: [[tuple(a) for a in arg] for arg in inp]),
    ({75, 413, 444, 753}, lambda inp: [[tuple(a) for a in inp[0]]] + [inp[1]]),
    ({106, 750}, lambda inp: [inp[0]] + [tuple(inp[1])]),
    ({115}, lambda inp: [[set(a) if isinstance(a, list) and len(a) else {} for a in inp[0]]]),
    ({124}, lambda inp: (float(inp[0]), complex(inp[1]))),
    ({250, 405, 446, 617, 720, 763, 808}, lambda inp: [tuple(inp[0])] + [inp[1]]),
    ({259, 401, 445}, lambda inp: [tuple(tuple(a) for a in arg) for arg in inp]),
    ({278}, lambda inp: [tuple(tuple(a) if isinstance(a, list) else a for a in inp[0])]),
    ({307}, lambda inp: [tuple(inp[0])] + [inp[1], inp[2]]),
    ({722}, lambda inp: [{k: tuple(v) for k, v in inp[0].items()}] + inp[1:]),
    ({252}, lambda inp: [complex(inp[0])]),
    ({580, 615, 791}, _ep_tuples),
]
def _ep_inputs(part):
    inputs = _EP[part]
    if _EP_DATASET != "mbpp":
        return inputs
    number = int(str(_EP["task_id"]).split("/")[-1])
    for ids, convert in _EP_MBPP_RULES:
        if number in ids:
            return [convert(inp) for inp in inputs]
    return inputs

_EP_NOT_NONE = {"check_str", "text_match_three", "text_starta_endb"}
_EP_SET_EQUAL = {"similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly", "larg_nnum",
                 "intersection_array", "find_dissimilar", "Diff"}
def _ep_surface_area(base_edge, height):
    slant = _ep_math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 2 * base_edge * slant)
def _ep_digit_distance(a, b):
    x, y = str(a), str(b)
    width = max(len(x), len(y))
    return sum(abs(int(p) - int(q)) for p, q in zip(x.zfill(width), y.zfill(width)))
def _ep_poly(xs, x):
    return sum(c * _ep_math.pow(x, i) for i, c in enumerate(xs))

def _ep_is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return type(x).__name__ == "ndarray" and str(getattr(x, "dtype", "")) in ("float64", "float32")

def _ep_close(out, exp, atol, rtol=1e-07):
    # numpy.allclose(out, exp, rtol, atol) for numbers and (nested) sequences of equal shape
    if isinstance(exp, (list, tuple)) or type(exp).__name__ == "ndarray":
        return len(out) == len(exp) and all(_ep_close(o, e, atol, rtol) for o, e in zip(out, exp))
    o, e = complex(out), complex(exp)
    if _ep_math.isnan(o.real) or _ep_math.isnan(o.imag) or _ep_math.isnan(e.real) or _ep_math.isnan(e.imag):
        return False
    if _ep_math.isinf(abs(o)) or _ep_math.isinf(abs(e)):
        return o == e
    return abs(o - e) <= atol + rtol * abs(e)

@_ep_contextlib.contextmanager
def _ep_quiet():
    out, err, inp = _ep_sys.stdout, _ep_sys.stderr, _ep_sys.stdin
    _ep_sys.stdout, _ep_sys.stderr, _ep_sys.stdin = _ep_io.StringIO(), _ep_io.StringIO(), _ep_io.StringIO()
    try:
        yield
    finally:
        _ep_sys.stdout, _ep_sys.stderr, _ep_sys.stdin = out, err, inp

def _ep_reference(part):
    scope = {"__builtins__": __builtins__}
    with _ep_quiet():
        exec(_EP["prompt"] + _EP["canonical_solution"], scope)
    fn = scope[_EP_ENTRY]
    outputs, times = [], []
    for inp in _ep_inputs(part):
        inp = _ep_copy.deepcopy(inp)
        start = _ep_time.time()
        with _ep_quiet():
            out = fn(*inp)
        times.append(_ep_time.time() - start)
        outputs.append(out is not None if _EP_DATASET == "mbpp" and _EP_ENTRY in _EP_NOT_NONE else out)
    return outputs, times

class _EpWatch:
    # interrupts the candidate (KeyboardInterrupt in the main thread) when an input runs past its limit
    def __init__(self):
        self.deadline, self.fired, self.lock = None, False, _ep_threading.Lock()
        _ep_threading.Thread(target=self.run, daemon=True).start()
    def arm(self, seconds):
        with self.lock:
            self.deadline, self.fired = _ep_time.monotonic() + seconds, False
    def disarm(self):
        with self.lock:
            self.deadline = None
    def run(self):
        while True:
            _ep_time.sleep(0.02)
            with self.lock:
                if self.deadline is not None and _ep_time.monotonic() > self.deadline and not self.fired:
                    self.fired = True
                    _ep_thread.interrupt_main()

def _ep_check(fn, part, expected, ref_times, watch):
    atol = _EP_ATOL
    limits = [max(_EP_MIN_LIMIT, _EP_FACTOR * t) for t in ref_times]
    budget = min(_EP_PER_TASK, sum(limits)) + 3
    part_start = _ep_time.monotonic()
    for i, inp in enumerate(_ep_inputs(part)):
        if _ep_time.monotonic() - part_start > budget:
            return "%s: out of time after %d of %d inputs (budget %.2f s)" % (part, i, len(limits), budget)
        exp = expected[i]
        try:
            watch.arm(limits[i])
            start = _ep_time.monotonic()
            try:
                with _ep_quiet():
                    out = fn(*inp)
            finally:
                elapsed = _ep_time.monotonic() - start
                watch.disarm()
            if elapsed > limits[i]:
                return "%s input %d: took %.3f s, limit %.3f s" % (part, i, elapsed, limits[i])
            same = out == exp
            if _EP_DATASET == "mbpp":
                if _EP_ENTRY == "are_equivalent":
                    same = True
                elif _EP_ENTRY == "sum_div":
                    same = same or out == 0
                elif _EP_ENTRY == "surface_Area":
                    same = same or abs(out - _ep_surface_area(*inp)) <= atol
                elif _EP_ENTRY == "digit_distance_nums":
                    same = same or out == _ep_digit_distance(*inp)
                elif _EP_ENTRY in _EP_SET_EQUAL:
                    same = set(out) == set(exp)
                elif _EP_ENTRY in _EP_NOT_NONE:
                    same = (out == exp) if isinstance(out, bool) else (exp == (out is not None))
            if _EP_DATASET == "humaneval" and _EP_ENTRY == "find_zero":
                if abs(_ep_poly(*inp, out)) <= atol:
                    continue
                return "%s input %d: find_zero result is not a root within atol %r" % (part, i, atol)
            if atol == 0 and _ep_is_floats(exp):
                atol = 1e-6
            if not same and atol != 0:
                if type(out) != type(exp):
                    return "%s input %d: returned %s, expected %s" % (part, i, type(out).__name__, type(exp).__name__)
                if not _ep_close(out, exp, atol):
                    return "%s input %d: %r not within atol %r of %r" % (part, i, out, atol, exp)
            elif not same:
                return "%s input %d: returned %r, expected %r" % (part, i, out, exp)
        except BaseException as e:
            if watch.fired:
                return "%s input %d: timed out (limit %.3f s)" % (part, i, limits[i])
            return "%s input %d: %s: %s" % (part, i, type(e).__name__, e)
    return None

def _ep_main():
    references = {part: _ep_reference(part) for part in ("base_input", "plus_input")}
    scope = {}
    with _ep_quiet():
        exec(_EP_SOLUTION, scope)
    fn = scope[_EP_ENTRY]
    watch = _EpWatch()
    for part in ("base_input", "plus_input"):
        expected, ref_times = references[part]
        failure = _ep_check(fn, part, expected, ref_times, watch)
        if failure is not None:
            raise AssertionError("evalplus " + failure)
    print("evalplus: %d base and %d plus inputs passed" % (len(references["base_input"][0]), len(references["plus_input"][0])))

_ep_main()
""";
}
