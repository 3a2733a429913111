// Prints OpenDllm's runtime facts from a file-based app: `dotnet run recipes/doctor.cs`.
// The repo's Directory.Build.targets applies here too, so TorchSharp's natives are fixed up on Debian 12.
#:project ../OpenDllm.Core/OpenDllm.Core.csproj
#:property OpenDllmTorchNatives=true

using OpenDllm.Runtime;

foreach (var (name, value) in TorchRuntime.Facts())
    Console.WriteLine($"{name,-18} {value}");
