// The storefront's only script: city suggestions while typing, and order
// statuses that update themselves. Every page works without it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("[data-city-picker]")) {
    const list = document.getElementById(input.getAttribute("list"));
    let timer;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      const q = input.value.replace(/\s*\([A-Z]{0,2}\)?$/, "").trim();
      if (q.length < 2) return;
      timer = setTimeout(async () => {
        const answer = await fetch(`/api/cities?q=${encodeURIComponent(q)}&limit=8`);
        if (!answer.ok) return;
        list.replaceChildren(...(await answer.json()).map((city) => {
          const option = document.createElement("option");
          option.value = `${city.name} (${city.country_code})`;
          option.label = city.country_name;
          return option;
        }));
      }, 150);
    });
  }

  const labels = {
    pending: "Pending", paid: "Paid", dispatched: "Dispatched",
    delivered: "Delivered", cancelled: "Cancelled", returned: "Returned",
  };
  const settled = (status) => ["delivered", "cancelled", "returned"].includes(status);
  for (const source of document.querySelectorAll("[data-poll]")) {
    const poll = async () => {
      const answer = await fetch(source.dataset.poll, { headers: { accept: "application/json" } });
      if (!answer.ok) return true;
      const body = await answer.json();
      let open = false;
      for (const order of body.items || [body]) {
        const badge = document.querySelector(`[data-order-status="${order.id}"]`);
        if (badge && badge.dataset.status !== order.status) {
          badge.dataset.status = order.status;
          badge.className = `status status-${order.status}`;
          badge.textContent = labels[order.status] || order.status;
        }
        open ||= !settled(order.status);
      }
      return open;
    };
    const again = async () => {
      if (await poll().catch(() => true)) setTimeout(again, 1500);
    };
    setTimeout(again, 1500);
  }
});
