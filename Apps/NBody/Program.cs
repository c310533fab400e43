System.Console.WriteLine("nbody placeholder");
