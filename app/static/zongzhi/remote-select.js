/* Search-as-you-type select boxes: each asks the lookup endpoint for matching rows as the user types. */
(function ($) {
  "use strict";

  function language() {
    var zh = ($("meta[name=zz-locale]").attr("content") || "zh").indexOf("en") !== 0;
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
