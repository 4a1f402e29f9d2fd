Console.WriteLine("LocalRun: not yet wired");
