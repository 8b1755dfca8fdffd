/* The dashboard's charts, drawn by the ECharts copy in our own static files (no CDN).
   Data and drill-down links come from the page (statistics module); clicks open the case list. */
(function () {
  "use strict";
  var source = document.getElementById("zz-dashboard-data");
  if (!source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var links = data.links;
  var palette = ["#2f6fb0", "#e07b39", "#3a9a5b", "#c44e52", "#8172b2", "#937860", "#da8bc3",
                 "#8c8c8c", "#ccb974", "#64b5cd"];

  function go(url) { if (url) { window.location.href = url; } }

  function bars(items, horizontal, limit) {
    var shown = limit ? items.slice(0, limit) : items;
    var names = shown.map(function (i) { return i.label; });
    var values = shown.map(function (i) { return { value: i.value, code: String(i.code) }; });
    var category = { type: "category", data: names, axisLabel: { interval: 0 } };
    var value = { type: "value", minInterval: 1 };
    if (horizontal) { category.inverse = true; }
    return {
      color: palette,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: horizontal ? 150 : 40, right: 30, top: 20, bottom: horizontal ? 30 : 70 },
      xAxis: horizontal ? value : Object.assign(category, { axisLabel: { interval: 0, rotate: 40 } }),
      yAxis: horizontal ? category : value,
      series: [{ type: "bar", data: values, label: { show: true, position: horizontal ? "right" : "top" } }]
    };
  }

  function pie(items) {
    return {
      color: palette,
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["35%", "65%"], center: ["50%", "45%"],
                 data: items.map(function (i) { return { name: i.label, value: i.value, code: String(i.code) }; }),
                 label: { formatter: "{b}\n{c}" } }]
    };
  }

  var builders = {
    trend: function () {
      var months = data.trend.map(function (p) { return p.month; });
      return {
        color: palette,
        tooltip: { trigger: "axis" },
        legend: { top: 0, data: [data.titles.registered, data.titles.concluded] },
        grid: { left: 50, right: 30, top: 36, bottom: 30 },
        xAxis: { type: "category", data: months },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: data.titles.registered, key: "registered", type: "bar",
            data: data.trend.map(function (p) { return { value: p.registered, code: p.month }; }) },
          { name: data.titles.concluded, key: "concluded", type: "line",
            data: data.trend.map(function (p) { return { value: p.concluded, code: p.month }; }) }
        ]
      };
    },
    category: function () { return bars(data.by_category, true); },
    source: function () { return pie(data.by_source); },
    level: function () { return pie(data.by_level); },
    centre: function () {
      var option = bars(data.by_centre, false);
      if (data.by_centre.length > 25) {
        option.dataZoom = [{ type: "slider", start: 0, end: Math.round(2500 / data.by_centre.length) }];
        option.grid.bottom = 100;
      }
      return option;
    },
    funnel: function () { return bars(data.funnel, true); },
    overdue: function () { return bars(data.overdue.by_unit, true, 20); }
  };

  document.querySelectorAll(".zz-chart").forEach(function (el) {
    var name = el.getAttribute("data-chart");
    var build = builders[name];
    if (!build) { return; }
    var chart = echarts.init(el, null, { renderer: "svg" });
    var option = build();
    option.animation = false;
    chart.setOption(option);
    if (!option.series.some(function (s) { return s.data && s.data.some(function (d) { return d.value; }); })) {
      chart.setOption({ title: { text: el.getAttribute("data-empty"), left: "center", top: "middle",
                                 textStyle: { color: "#999", fontSize: 14 } } });
    }
    chart.on("click", function (params) {
      var code = params.data && params.data.code;
      if (name === "trend") {
        var series = option.series[params.seriesIndex];
        go(links.trend[code] && links.trend[code][series.key]);
      } else {
        go(links[name] && links[name][code]);
      }
    });
    window.addEventListener("resize", function () { chart.resize(); });
    el.setAttribute("data-drawn", "1");
  });
})();
