// Herald's email block editor: the blocks of an email as cards to fill in, dragged from the
// palette and moved about with SortableJS (or with the cards' own buttons, from the keyboard).
// On save the cards are read into Herald's design format (a list of typed blocks) and sent in
// the form's "design" field; the server validates it and makes the email's HTML.
(function () {
  "use strict";

  function blockTemplate(editor, type) {
    var template = editor.querySelector('template[data-block-template="' + type + '"]');
    return template.content.firstElementChild.cloneNode(true);
  }

  function isBlock(el) { return el.classList && el.classList.contains("block"); }

  function readFields(card) {
    var block = { type: card.dataset.type };
    card.querySelectorAll(":scope > .block-fields [data-field]").forEach(function (input) {
      var value = input.value;
      if (input.dataset.optional && value.trim() === "") return;
      block[input.dataset.field] = input.dataset.kind === "int" ? parseInt(value, 10) : value;
    });
    return block;
  }

  function readProducts(card) {
    var products = [];
    card.querySelectorAll(".product-row").forEach(function (row) {
      var product = {};
      row.querySelectorAll("[data-product]").forEach(function (input) {
        if (input.value.trim() !== "") product[input.dataset.product] = input.value.trim();
      });
      if (Object.keys(product).length) products.push(product);
    });
    return { type: "products", products: products };
  }

  function readBlock(card) {
    if (card.dataset.type === "columns") {
      var columns = [];
      card.querySelectorAll(":scope > .columns-edit > .column-edit > [data-column]").forEach(function (column) {
        columns.push(Array.prototype.filter.call(column.children, isBlock).map(readBlock));
      });
      return { type: "columns", columns: columns };
    }
    if (card.dataset.type === "products") return readProducts(card);
    return readFields(card);
  }

  function readDesign(editor) {
    var canvas = editor.querySelector("[data-canvas]");
    var design = { blocks: Array.prototype.filter.call(canvas.children, isBlock).map(readBlock) };
    var style = editor.dataset.style ? JSON.parse(editor.dataset.style) : {};
    if (Object.keys(style).length) design.style = style;
    return design;
  }

  // Lists blocks can be dropped into: the email itself, and each column (no columns in columns).
  function makeSortable(editor, list) {
    if (list.dataset.sortable) return;
    list.dataset.sortable = "1";
    var inColumn = list.hasAttribute("data-column");
    window.Sortable.create(list, {
      group: {
        name: "email-blocks",
        put: function (to, from, dragged) { return !(inColumn && dragged.dataset.type === "columns"); }
      },
      handle: ".handle, .palette-item",
      draggable: ".block, .palette-item",
      forceFallback: true,
      fallbackOnBody: true,
      animation: 120,
      onAdd: function (event) {
        var dropped = event.item;
        if (!dropped.classList.contains("palette-item")) return;
        var card = blockTemplate(editor, dropped.dataset.type);
        dropped.replaceWith(card);
        wire(editor, card);
        focusFirstField(card);
      }
    });
  }

  function focusFirstField(card) {
    var field = card.querySelector("input, textarea, select");
    if (field) field.focus();
  }

  function wire(editor, root) {
    root.querySelectorAll("[data-column]").forEach(function (list) { makeSortable(editor, list); });
  }

  var lastField = null;

  function insertToken(token) {
    if (!lastField || !document.contains(lastField)) {
      window.heraldToast && window.heraldToast("Click into a text field first, then choose the token", "error");
      return;
    }
    var start = lastField.selectionStart == null ? lastField.value.length : lastField.selectionStart;
    var end = lastField.selectionEnd == null ? start : lastField.selectionEnd;
    lastField.value = lastField.value.slice(0, start) + token + lastField.value.slice(end);
    lastField.focus();
    lastField.setSelectionRange(start + token.length, start + token.length);
  }

  function setUp(editor) {
    var canvas = editor.querySelector("[data-canvas]");
    makeSortable(editor, canvas);
    wire(editor, canvas);
    window.Sortable.create(editor.querySelector(".palette"), {
      group: { name: "email-blocks", pull: "clone", put: false },
      sort: false,
      forceFallback: true,
      fallbackOnBody: true
    });

    editor.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button || !editor.contains(button)) return;
      var card = button.closest(".block");
      if (button.dataset.append) {
        var added = blockTemplate(editor, button.dataset.append);
        canvas.appendChild(added);
        wire(editor, added);
        focusFirstField(added);
      } else if (button.hasAttribute("data-remove") && card) {
        card.remove();
      } else if (button.dataset.move === "up" && card && card.previousElementSibling) {
        card.parentNode.insertBefore(card, card.previousElementSibling);
        button.focus();
      } else if (button.dataset.move === "down" && card && card.nextElementSibling) {
        card.parentNode.insertBefore(card.nextElementSibling, card);
        button.focus();
      } else if (button.hasAttribute("data-remove-product")) {
        button.closest(".product-row").remove();
      }
    });

    editor.addEventListener("change", function (event) {
      var select = event.target;
      if (select.matches("[data-add-to-column]") && select.value) {
        var column = select.closest(".column-edit").querySelector("[data-column]");
        var card = blockTemplate(editor, select.value);
        column.appendChild(card);
        select.value = "";
        focusFirstField(card);
      } else if (select.matches("[data-add-product]") && select.selectedIndex > 0) {
        var option = select.options[select.selectedIndex];
        var row = editor.querySelector("template[data-product-row-template]").content.firstElementChild.cloneNode(true);
        if (!option.dataset.empty) {
          row.querySelector('[data-product="name"]').value = option.dataset.name || "";
          row.querySelector('[data-product="price"]').value = option.dataset.price || "";
          row.querySelector('[data-product="url"]').value = option.dataset.url || "";
          row.querySelector('[data-product="image_url"]').value = option.dataset.image || "";
        }
        select.closest(".block").querySelector(".product-rows").appendChild(row);
        select.selectedIndex = 0;
      } else if (select.matches("[data-token]") && select.value) {
        insertToken(select.value);
        select.value = "";
      }
    });

    editor.closest("form").addEventListener("focusin", function (event) {
      var el = event.target;
      if (el.matches('input:not([type]), input[type="text"], textarea')) lastField = el;
    });
  }

  // The design is written into the form before htmx reads the form's values: this listener
  // runs in the capture phase, ahead of htmx's own on the form.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var editor = form.querySelector && form.querySelector("[data-email-editor]");
    if (!editor) return;
    form.querySelector("[data-design-field]").value = JSON.stringify(readDesign(editor));
  }, true);

  // A problem naming a block (design.blocks.3.columns.1.0.href): that block is marked.
  document.addEventListener("htmx:responseError", function (event) {
    var problem;
    try { problem = JSON.parse(event.detail.xhr.responseText); } catch (e) { return; }
    var field = ((problem.errors || [])[0] || {}).field || "";
    var path = field.split(".design.blocks.")[1];
    var editor = document.querySelector("[data-email-editor]");
    if (!path || !editor) return;
    editor.querySelectorAll(".block-invalid").forEach(function (b) { b.classList.remove("block-invalid"); });
    // e.g. 3.image.src, or 2.columns.columns.1.0.button.href (a block's type names its kind)
    var parts = path.split(".");
    var card = Array.prototype.filter.call(editor.querySelector("[data-canvas]").children, isBlock)[+parts[0]];
    parts = parts.slice(card && parts[1] === card.dataset.type ? 2 : 1);
    if (card && card.dataset.type === "columns" && parts[0] === "columns") {
      var column = card.querySelectorAll("[data-column]")[+parts[1]];
      card = column && Array.prototype.filter.call(column.children, isBlock)[+parts[2]];
      parts = parts.slice(card && parts[3] === card.dataset.type ? 4 : 3);
    }
    if (!card) return;
    card.classList.add("block-invalid");
    var name = parts[0] === "products" ? parts[2] : parts[0];
    var input = card.querySelector('[data-field="' + name + '"], [data-product="' + name + '"]');
    (input || card).focus();
    card.scrollIntoView({ block: "center" });
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-email-editor]").forEach(setUp);
  });
})();
