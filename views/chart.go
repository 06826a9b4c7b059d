package views

// ChartSeries is one line of a chart.
type ChartSeries struct {
	Label string `json:"label"`
	Unit  string `json:"unit,omitempty"` // shown after values in the legend ("s", "tok/s")
}

// ChartSpec is the data of a uPlot line chart (static/charts.js). Y holds
// one slice per series, aligned with X; NaN is not valid JSON, so a missing
// value is a nil pointer.
type ChartSpec struct {
	Title     string        `json:"-"`
	XLabel    string        `json:"xLabel,omitempty"`
	YLabel    string        `json:"yLabel,omitempty"`
	Series    []ChartSeries `json:"series"`
	X         []float64     `json:"x"`
	Y         [][]*float64  `json:"y"`
	Height    int           `json:"height,omitempty"`    // plot height in px; default 260
	MaxPoints int           `json:"maxPoints,omitempty"` // live charts keep the last N points; default 5000
	// SSEEvent, when set, appends points from that Server-Sent Event (inside
	// an element with sse-connect). Each message is {"x":n,"y":[…]} or a list
	// of those.
	SSEEvent string `json:"-"`
}
