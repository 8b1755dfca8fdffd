/* Zongzhi's page scripts: Chinese date pickers, and select boxes that search as the user types. */
(function ($) {
  "use strict";

  var locale = $("meta[name=zz-locale]").attr("content") || "zh";

  // Flask-AppBuilder's date pickers (list filters) start at DOM ready; give them Chinese first.
  if ($.fn.datepicker && locale.indexOf("en") !== 0) {
    $.fn.datepicker.dates["zh-CN"] = {
      days: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
      daysShort: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
      daysMin: ["日", "一", "二", "三", "四", "五", "六"],
      months: ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"],
      monthsShort: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
      today: "今天",
      clear: "清除",
      format: "yyyy-mm-dd",
      titleFormat: "yyyy年mm月",
      weekStart: 1
    };
    $.fn.datepicker.defaults.language = "zh-CN";
  }

  function language() {
    var zh = locale.indexOf("en") !== 0;
    return zh ? {
      inputTooShort: function () { return "请输入关键字搜索"; },
      noResults: function () { return "没有匹配的记录"; },
      searching: function () { return "正在搜索…"; },
      loadingMore: function () { return "正在加载更多…"; },
      errorLoading: function () { return "无法加载结果"; }
    } : {};
  }

  function init(element) {
    var $el = $(element);
    if ($el.data("select2") || !$el.closest("body").length) { return; }
    $el.select2({
      theme: "bootstrap",
      width: "100%",
      allowClear: $el.data("allow-clear") === true || $el.data("allow-clear") === "true",
      placeholder: $el.data("placeholder") || "",
      minimumInputLength: 0,
      language: language(),
      ajax: {
        url: $el.data("lookup"),
        dataType: "json",
        delay: 250,
        data: function (params) { return { q: params.term || "", page: params.page || 1 }; },
        processResults: function (data) { return data; }
      }
    });
  }

  function scan(root) {
    $(root).find("select.remote-select").addBack("select.remote-select").each(function () { init(this); });
  }

  // "显示": ask the server for one masked personal value; the server records that it was shown.
  $(document).on("click", "button.zz-reveal", function () {
    var $button = $(this);
    $.ajax({
      url: $button.data("url"),
      method: "POST",
      headers: { "X-CSRFToken": $("meta[name=csrf-token]").attr("content") },
      dataType: "json"
    }).done(function (data) {
      $button.prev(".zz-masked").text(data.value);
      $button.remove();
    }).fail(function () {
      $button.prop("disabled", true);
    });
  });

  $(function () {
    scan(document.body);
    // Filters and inline forms add fields after load: initialise them as they appear.
    new MutationObserver(function (mutations) {
      mutations.forEach(function (m) {
        m.addedNodes.forEach(function (node) { if (node.nodeType === 1) { scan(node); } });
      });
    }).observe(document.body, { childList: true, subtree: true });
  });
})(jQuery);
