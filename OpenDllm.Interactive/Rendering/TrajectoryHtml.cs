using System.Globalization;
using System.Text;
using OpenDllm.Sampling;
using OpenDllm.Tokenization;

namespace OpenDllm.Interactive;

/// <summary>A trajectory together with the tokenizer (and title) to show it with; what notebooks display.</summary>
public sealed record TrajectoryView(Trajectory Trajectory, ITokenizer? Tokenizer, string? Title = null);

/// <summary>
/// Renders a denoising <see cref="Trajectory"/> as an interactive, offline HTML viewer (inline CSS and JS only).
/// </summary>
/// <remarks>
/// DOM contract (kept stable for the browser tests): every canvas position is
/// <c>&lt;span class="tok" data-row="r" data-pos="j" data-step="s" data-token="TEXT"&gt;</c> where s is
/// <see cref="Trajectory.CommitStep"/> (1-based step that last committed the position; 0 for fixed context) and TEXT the
/// decoded final token. The slider is <c>&lt;input type="range" id="step" min="0" max="#steps"&gt;</c> and the play button
/// <c>id="play"</c>. After an <c>input</c> event with value k, each span with 0 &lt; s ≤ k shows TEXT and has class
/// <c>committed</c>, each span with s &gt; k shows "▢" and has class <c>masked</c>; spans with s = 0 always show TEXT with
/// class <c>fixed</c>. Initially the slider is at the last step. The script is scoped to its own root element, so
/// several viewers can share a page (their ids repeat; the script never looks them up globally).
/// </remarks>
public static class TrajectoryHtml
{
    /// <summary>The glyph shown for a still-masked position.</summary>
    public const string MaskGlyph = "▢";

    const string Style =
        "<style>.odl-traj{font:13px/1.5 system-ui,sans-serif;margin:.5em 0}.odl-traj .ctl{display:flex;gap:.6em;align-items:center;flex-wrap:wrap;margin:.3em 0}" +
        ".odl-traj .ctl input[type=range]{width:320px}.odl-traj .canvas{font:13px/1.9 ui-monospace,monospace;white-space:pre-wrap;word-break:break-all;border:1px solid #ddd;padding:.5em;border-radius:4px}" +
        ".odl-traj .tok{border-radius:2px;padding:0 1px;white-space:pre-wrap}.odl-traj .tok.fixed{background:#e8e8e8;color:#333}" +
        ".odl-traj .tok.committed{background:var(--c);color:var(--t)}.odl-traj .tok.masked{background:#fff;color:#aaa;outline:1px dashed #ccc}" +
        ".odl-traj .tok.just{box-shadow:0 0 0 2px #e4572e}.odl-traj .legend{display:flex;align-items:center;gap:.4em;font-size:12px;color:#555;margin:.3em 0}" +
        ".odl-traj .legend .bar{width:160px;height:10px;border-radius:2px}.odl-traj .sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:middle}" +
        ".odl-traj table.order{border-collapse:collapse;margin:.3em 0}.odl-traj table.order td{width:8px;height:12px;padding:0}" +
        ".odl-traj table.order th{font:10px monospace;color:#777;padding-right:4px}.odl-traj .heatwrap{overflow-x:auto}</style>";

    /// <summary>The viewer as an HTML fragment (for notebooks and reports).</summary>
    /// <param name="trajectory">The recorded trajectory.</param>
    /// <param name="tokenizer">Decodes each token; without one the token ids are shown.</param>
    /// <param name="title">An optional heading.</param>
    public static string Render(Trajectory trajectory, ITokenizer? tokenizer, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(trajectory);
        var final = trajectory.CanvasAfter(trajectory.Steps.Count);
        var order = trajectory.CommitStep();
        var confidence = LastConfidence(trajectory);
        int steps = trajectory.Steps.Count, rows = final.Length;
        string id = Html.NewId("odl-traj");
        var sb = new StringBuilder();
        sb.Append("<div class=\"odl-traj\" id=\"").Append(id).Append("\">").Append(Style);
        if (title is not null) sb.Append("<h3>").Append(Html.Escape(title)).Append("</h3>");
        sb.Append("<div class=\"ctl\"><button type=\"button\" id=\"play\">▶ Play</button>")
          .Append("<label>step <input type=\"range\" id=\"step\" min=\"0\" max=\"").Append(steps).Append("\" value=\"").Append(steps).Append("\" step=\"1\"></label>")
          .Append("<output class=\"lbl\">").Append(steps).Append(" / ").Append(steps).Append("</output>");
        if (rows > 1)
        {
            sb.Append("<label>row <select id=\"row\">");
            for (int r = 0; r < rows; r++) sb.Append("<option value=\"").Append(r).Append("\">").Append(r).Append("</option>");
            sb.Append("</select></label>");
        }
        sb.Append("</div>");
        sb.Append(Legend(steps));
        for (int r = 0; r < rows; r++)
        {
            sb.Append("<div class=\"canvas\" data-row=\"").Append(r).Append('"').Append(r > 0 ? " style=\"display:none\"" : "").Append('>');
            for (int j = 0; j < final[r].Length; j++)
            {
                int s = order[r][j];
                string text = TokenText(final[r][j], trajectory.MaskId, tokenizer);
                string cls = s == 0 ? "tok fixed" : s == steps ? "tok committed just" : "tok committed";
                string color = s == 0 ? "#e8e8e8" : StepColor(s, steps);
                sb.Append("<span class=\"").Append(cls).Append("\" data-row=\"").Append(r).Append("\" data-pos=\"").Append(j)
                  .Append("\" data-step=\"").Append(s).Append("\" data-token=\"").Append(Html.Escape(text)).Append('"');
                if (s > 0) sb.Append(" style=\"--c:").Append(color).Append(";--t:").Append(Html.TextOn(color)).Append('"');
                sb.Append(" title=\"").Append(Html.Escape(Tooltip(r, j, s, final[r][j], confidence[r][j]))).Append("\">")
                  .Append(Html.Escape(text)).Append("</span>");
            }
            sb.Append("</div>");
        }
        sb.Append(OrderHeatmap(order, steps));
        sb.Append("<script>").Append(Script.Replace("__ID__", id)).Append("</script></div>");
        return sb.ToString();
    }

    /// <summary>Renders <paramref name="view"/> (see <see cref="Render(Trajectory, ITokenizer?, string?)"/>).</summary>
    public static string Render(TrajectoryView view) => Render(view.Trajectory, view.Tokenizer, view.Title);

    /// <summary>The viewer as a full offline HTML document.</summary>
    public static string RenderPage(Trajectory trajectory, ITokenizer? tokenizer, string? title = null) =>
        Html.Page(title ?? "Denoising trajectory", Render(trajectory, tokenizer, title));

    /// <summary>Pairs a trajectory with its tokenizer for notebook display.</summary>
    public static TrajectoryView View(Trajectory trajectory, ITokenizer? tokenizer, string? title = null) => new(trajectory, tokenizer, title);

    static string TokenText(long token, long maskId, ITokenizer? tokenizer) =>
        token == maskId ? MaskGlyph
        : tokenizer is null ? token.ToString(CultureInfo.InvariantCulture) + " "
        : tokenizer.Decode([(int)token]);

    static string StepColor(int step, int steps) => Html.Viridis(steps <= 1 ? 0.5 : (step - 1) / (double)(steps - 1) * 0.9);

    static string Tooltip(int row, int pos, int step, long token, float confidence)
    {
        var s = $"row {row} · pos {pos} · id {token} · " + (step == 0 ? "fixed" : $"step {step}");
        return float.IsNaN(confidence) ? s : s + $" · confidence {confidence.ToString("0.000", CultureInfo.InvariantCulture)}";
    }

    static float[][] LastConfidence(Trajectory t) => t.LastConfidence();   // follows insertions and deletions (variable-length samplers)

    static string Legend(int steps)
    {
        var stops = string.Join(",", Enumerable.Range(0, 10).Select(i => StepColor(1 + (int)Math.Round(i / 9.0 * Math.Max(steps - 1, 0)), steps)));
        return $"<div class=\"legend\"><span class=\"sw\" style=\"background:#e8e8e8\"></span>fixed context " +
               $"<span class=\"sw\" style=\"outline:1px dashed #ccc\"></span>masked ({MaskGlyph}) &nbsp; committed at step 1" +
               $"<span class=\"bar\" style=\"background:linear-gradient(to right,{stops})\"></span>{steps}" +
               " &nbsp;<span class=\"sw\" style=\"box-shadow:0 0 0 2px #e4572e\"></span>this step · hover a token for its confidence</div>";
    }

    static string OrderHeatmap(int[][] order, int steps)
    {
        var sb = new StringBuilder("<div class=\"heatwrap\"><div class=\"legend\">commit order (row × position; grey = fixed)</div><table class=\"order\">");
        for (int r = 0; r < order.Length; r++)
        {
            sb.Append("<tr><th>").Append(r).Append("</th>");
            for (int j = 0; j < order[r].Length; j++)
            {
                int s = order[r][j];
                sb.Append("<td style=\"background:").Append(s == 0 ? "#e8e8e8" : StepColor(s, steps)).Append("\" title=\"pos ").Append(j)
                  .Append(s == 0 ? " fixed" : $" step {s}").Append("\"></td>");
            }
            sb.Append("</tr>");
        }
        return sb.Append("</table></div>").ToString();
    }

    // Scoped to the root element; finds it by its unique id (document.currentScript is null in some notebook front ends).
    const string Script = """
        (function(){
          var root = document.getElementById('__ID__'); if (!root) return;
          var slider = root.querySelector('#step'), play = root.querySelector('#play'), lbl = root.querySelector('.lbl');
          var rowSel = root.querySelector('#row'), toks = root.querySelectorAll('.tok'), max = parseInt(slider.max, 10), timer = null;
          function show(k) {
            for (var i = 0; i < toks.length; i++) {
              var e = toks[i], s = parseInt(e.getAttribute('data-step'), 10);
              if (s === 0) continue;
              if (s <= k) { e.textContent = e.getAttribute('data-token'); e.className = s === k ? 'tok committed just' : 'tok committed'; }
              else { e.textContent = '\u25A2'; e.className = 'tok masked'; }
            }
            lbl.textContent = k + ' / ' + max;
          }
          function stop() { if (timer) { clearInterval(timer); timer = null; } play.textContent = '\u25B6 Play'; }
          slider.addEventListener('input', function(){ show(parseInt(slider.value, 10)); });
          play.addEventListener('click', function(){
            if (timer) { stop(); return; }
            var k = parseInt(slider.value, 10) >= max ? 0 : parseInt(slider.value, 10);
            slider.value = k; show(k); play.textContent = '\u23F8 Pause';
            timer = setInterval(function(){
              if (k >= max) { stop(); return; }
              k++; slider.value = k; show(k);
            }, Math.max(40, Math.min(400, 4000 / Math.max(max, 1))));
          });
          if (rowSel) rowSel.addEventListener('change', function(){
            var c = root.querySelectorAll('.canvas');
            for (var i = 0; i < c.length; i++) c[i].style.display = c[i].getAttribute('data-row') === rowSel.value ? '' : 'none';
          });
          show(parseInt(slider.value, 10));
        })();
        """;
}
