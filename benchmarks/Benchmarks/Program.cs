Console.WriteLine("benchmarks: not yet wired");
