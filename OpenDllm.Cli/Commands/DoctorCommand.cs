using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenDllm.Runtime;
using Spectre.Console;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm doctor`: prints the runtime facts (TorchSharp, the libtorch actually loaded with its real version, path and
/// CUDA build, CUDA devices, threads) and notes on which libtorch versions are known to work. `--json` prints the same
/// as one JSON object (<c>{"facts": {name: value}, "notes": [..]}</c>) for scripts such as the GPU check.
/// </summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the facts and notes as one JSON object." };
        var command = new Command("doctor", "Print runtime facts: TorchSharp, the loaded libtorch (path, version, CUDA), devices, threads.") { json };
        command.SetAction(p => CliErrors.Run(() => Run(p.GetValue(json))));
        return command;
    }

    static int Run(bool json)
    {
        var facts = TorchRuntime.Facts();
        var notes = TorchRuntime.Notes();
        if (json)
        {
            var factsObject = new JsonObject();
            foreach (var (name, value) in facts) factsObject[name] = value;
            var root = new JsonObject { ["facts"] = factsObject, ["notes"] = new JsonArray(notes.Select(n => (JsonNode?)n).ToArray()) };
            Console.WriteLine(root.ToJsonString(new JsonSerializerOptions
            {
                WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            }));
            return 0;
        }
        var table = new Table().AddColumn("fact").AddColumn("value");
        foreach (var (name, value) in facts)
            table.AddRow(Markup.Escape(name), Markup.Escape(value));
        var console = CliConsole.Current();
        console.Write(table);
        foreach (var note in notes)
            console.WriteLine("note: " + note);
        return 0;
    }
}
