return OpenDllm.Cli.CliApp.Run(args);
