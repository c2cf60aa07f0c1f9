// Parser throughput of Go's prometheus/common expfmt.TextParser (the parser Prometheus-ecosystem
// Go tools use on text 0.0.4), measured the same way as exposition-bench: warm up, size a batch
// to ~0.1 s, then parse for >= 1 s. Prints `FILE BYTES MB/s`.
package main

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/common/expfmt"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Println("usage: go-expfmt FILE...")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		body, err := os.ReadFile(path)
		if err != nil {
			fmt.Printf("%s: %v\n", path, err)
			os.Exit(1)
		}
		checksum := 0
		parse := func() {
			var parser expfmt.TextParser
			families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
			if err != nil {
				fmt.Printf("%s: parse error %v\n", path, err)
				os.Exit(1)
			}
			for _, family := range families {
				checksum += len(family.Metric)
			}
		}
		iterations := 1
		for {
			start := time.Now()
			for i := 0; i < iterations; i++ {
				parse()
			}
			if time.Since(start) >= 100*time.Millisecond {
				break
			}
			iterations *= 2
		}
		var total time.Duration
		runs := 0
		for total < time.Second {
			start := time.Now()
			for i := 0; i < iterations; i++ {
				parse()
			}
			total += time.Since(start)
			runs += iterations
		}
		mbps := float64(len(body)) * float64(runs) / total.Seconds() / 1e6
		fmt.Printf("%s %d %.1f\n", path, len(body), mbps)
		fmt.Fprintf(os.Stderr, "%s: %.0f us/parse over %d parses (checksum %d)\n", path,
			total.Seconds()/float64(runs)*1e6, runs, checksum%1000)
	}
}
