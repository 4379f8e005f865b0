// Draws the complaints dashboard (data from the json_script block "complaint-charts"):
// pies by severity and channel, bars by category and department, the monthly trend, the on-time
// rate of each deadline and the satisfaction of return visits.
(function () {
  const node = document.getElementById("complaint-charts");
  if (!node || typeof echarts === "undefined") return;
  const data = JSON.parse(node.textContent);
  const palette = ["#1f3a5f", "#3e7cb1", "#81a4cd", "#f0a202", "#d95d39", "#6a994e", "#a7c957", "#9e2a2b"];
  const charts = [];

  function target(id, series) {
    const el = document.getElementById(id);
    if (!el) return null;
    if (!series || !series.values || !series.values.length) {
      el.classList.add("d-flex", "align-items-center", "justify-content-center", "text-body-secondary");
      el.textContent = "—";
      return null;
    }
    const chart = echarts.init(el);
    charts.push(chart);
    return chart;
  }

  function pie(id, series, colours) {
    const chart = target(id, series);
    if (!chart) return;
    chart.setOption({
      color: colours || palette,
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { bottom: 0, type: "scroll" },
      series: [{
        type: "pie", radius: ["40%", "68%"], center: ["50%", "44%"],
        label: { formatter: "{b}\n{c}" },
        data: series.labels.map((name, i) => ({ name: name, value: series.values[i] })),
      }],
    });
  }

  function bars(id, series, options) {
    const chart = target(id, series);
    if (!chart) return;
    const percent = options && options.percent;
    chart.setOption({
      color: palette,
      tooltip: { trigger: "axis", valueFormatter: percent ? (v) => v + "%" : undefined },
      grid: { left: 8, right: 36, top: 8, bottom: 8, containLabel: true },
      xAxis: percent ? { type: "value", min: 0, max: 100 } : { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: series.labels.slice().reverse() },
      series: [{
        type: "bar", barMaxWidth: 28, data: series.values.slice().reverse(),
        label: { show: true, position: "right", formatter: percent ? "{c}%" : "{c}" },
      }],
    });
  }

  function trend(id, series) {
    const chart = target(id, series);
    if (!chart) return;
    chart.setOption({
      color: palette,
      tooltip: { trigger: "axis" },
      grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: series.labels },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "line", areaStyle: { opacity: 0.15 }, data: series.values, label: { show: true } }],
    });
  }

  pie("chart-severity", data.severity);
  pie("chart-channel", data.channel);
  bars("chart-category", data.category);
  bars("chart-department", data.department);
  trend("chart-trend", data.trend);
  bars("chart-on-time", data.on_time, { percent: true });
  pie("chart-satisfaction", data.satisfaction, ["#198754", "#dc3545"]);
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
})();
