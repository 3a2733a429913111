using System.Text.RegularExpressions;
using OpenDllm.Interactive;
using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Rendering;

public class TrajectoryHtmlTests
{
    static readonly Regex Tok = new("<span class=\"tok[^\"]*\" data-row=\"(\\d+)\" data-pos=\"(\\d+)\" data-step=\"(\\d+)\" data-token=\"([^\"]*)\"", RegexOptions.Compiled);

    [Fact]
    public void EveryCanvasPositionIsOneTokSpanWithItsCommitStep()
    {
        var traj = RenderingFixtures.Trajectory();
        var html = TrajectoryHtml.Render(traj, ByteTokenizer.Instance);
        var spans = Tok.Matches(html);
        int size = traj.Initial.Sum(r => r.Length);
        Assert.Equal(size, spans.Count);
        Assert.Equal(size, Regex.Matches(html, "class=\"tok[ \"]").Count);
        var order = traj.CommitStep();
        foreach (Match m in spans)
        {
            int r = int.Parse(m.Groups[1].Value), j = int.Parse(m.Groups[2].Value), s = int.Parse(m.Groups[3].Value);
            Assert.Equal(order[r][j], s);
        }
        Assert.Contains("data-row=\"0\" data-pos=\"4\" data-step=\"3\" data-token=\"&lt;\"", html);
        Assert.Contains("data-row=\"0\" data-pos=\"0\" data-step=\"0\" data-token=\"h\"", html);
        Assert.Contains("data-token=\"&quot;\"", html);
    }

    [Fact]
    public void ControlsFollowTheContract()
    {
        var traj = RenderingFixtures.Trajectory();
        var html = TrajectoryHtml.Render(traj, ByteTokenizer.Instance, "demo");
        Assert.Contains($"<input type=\"range\" id=\"step\" min=\"0\" max=\"{traj.Steps.Count}\"", html);
        Assert.Contains("id=\"play\"", html);
        Assert.Contains("id=\"row\"", html); // two rows: selectable
        Assert.Contains("confidence 0.950", html);
        Assert.Contains("class=\"tok fixed\"", html);
        Assert.Contains("commit order", html);
    }

    [Fact]
    public void PageIsOfflineAndBalanced()
    {
        var page = TrajectoryHtml.RenderPage(RenderingFixtures.Trajectory(), ByteTokenizer.Instance, "t");
        Assert.StartsWith("<!DOCTYPE html>", page);
        Assert.DoesNotMatch("<(script|link)[^>]*(src|href)=\"https?://", page);
        Assert.DoesNotContain("http://", page);
        Assert.DoesNotContain("https://", page);
        Assert.Equal(Regex.Matches(page, "<script\\b").Count, Regex.Matches(page, "</script>").Count);
        Assert.Equal(Regex.Matches(page, "<style\\b").Count, Regex.Matches(page, "</style>").Count);
        Assert.Equal(Regex.Matches(page, "<div\\b").Count, Regex.Matches(page, "</div>").Count);
        Assert.Equal(Regex.Matches(page, "<span\\b").Count, Regex.Matches(page, "</span>").Count);
        Assert.Contains("</html>", page);
    }

    [Fact]
    public void WithoutTokenizerTokenIdsAreShown()
    {
        var html = TrajectoryHtml.Render(RenderingFixtures.Trajectory(), null);
        Assert.Contains("data-token=\"104 \"", html); // 'h'
    }
}
