// Draws the dashboard's customer counts (data from the json_script block "dashboard-charts").
(function () {
  const data = JSON.parse(document.getElementById("dashboard-charts").textContent);
  const palette = ["#1f3a5f", "#3e7cb1", "#81a4cd", "#f0a202", "#d95d39", "#6a994e", "#a7c957", "#9e2a2b"];
  // the same colours as the status badges of the customer pages
  const statusColours = {
    prospect: "#6c757d", admitted: "#0dcaf0", active: "#198754",
    suspended: "#ffc107", blacklisted: "#212529", terminated: "#adb5bd",
  };
  const charts = [];

  function empty(el) {
    el.classList.add("d-flex", "align-items-center", "justify-content-center", "text-body-secondary");
    el.textContent = "—";
  }

  function pie(id, series) {
    const el = document.getElementById(id);
    if (!series.values.length) { empty(el); return; }
    const chart = echarts.init(el);
    chart.setOption({
      color: palette,
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { bottom: 0, type: "scroll" },
      series: [{
        type: "pie", radius: ["40%", "68%"], center: ["50%", "44%"],
        label: { formatter: "{b}\n{c}" },
        data: series.labels.map((name, i) => {
          const item = { name: name, value: series.values[i] };
          const colour = series.keys && statusColours[series.keys[i]];
          if (colour) item.itemStyle = { color: colour };
          return item;
        }),
      }],
    });
    charts.push(chart);
  }

  function bars(id, series) {
    const el = document.getElementById(id);
    if (!series.values.length) { empty(el); return; }
    const chart = echarts.init(el);
    chart.setOption({
      color: palette,
      tooltip: { trigger: "axis" },
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: series.labels.slice().reverse() },
      series: [{ type: "bar", data: series.values.slice().reverse(), label: { show: true, position: "right" } }],
    });
    charts.push(chart);
  }

  pie("chart-status", data.status);
  pie("chart-type", data.type);
  bars("chart-department", data.department);
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
})();
