// Entry point of every page: picks the page's module by <body data-page>.
const PAGES = {
  login: "./pages/login.js",
  app: "./shell.js",
  public: "./pages/public.js",
  handoff: "./pages/handoff.js",
  account: "./pages/account.js",
};

const page = document.body.dataset.page;
if (PAGES[page]) {
  // data-ready: the page's script is in charge (tests wait for it before typing).
  import(PAGES[page]).then((module) => {
    const started = module.start();
    document.body.dataset.ready = "script";
    return started;
  }).then(() => { document.body.dataset.ready = "done"; });
}
