// The tick API and the dashboard locked down (README, "Securing the tick API and
// dashboard"), against the real binary and broker: bearer tokens (probes and /metrics
// open, the token nowhere in logs or `ps`), HTTPS with a certificate made by `openssl`
// here, 413 for an oversized body with nothing produced, slow clients dropped at the
// request deadline while others are served, and a connection limit that answers at once
// instead of queueing. The bounds measured are printed ("[ bound ]" lines).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "tests/support/services.h"

namespace auditor::api_test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kToken[] = "tk_4f9c2e7d1b8a6f3e5d2c9b7a1e4f8d6c";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A raw TCP connection, for what no well-behaved client does.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }
  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // True once the server closed the connection (end of file or reset); what it sent
  // before goes to `received`. Waits at most `wait`.
  bool closed_within(milliseconds wait) {
    const auto until = Clock::now() + wait;
    while (Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
      if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left, 1))) <= 0) continue;
      std::array<char, 4096> buffer{};
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n > 0) {
        received_.append(buffer.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        return true;
      }
    }
    return false;
  }
  [[nodiscard]] const std::string& received() const { return received_; }

 private:
  int fd_;
  bool connected_ = false;
  std::string received_;
};

class ApiSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    topic_ = "api_secure_" + test::unique_suffix();
    test::create_topic(topic_, 1);
    dir_ = work_dir() / ("security-" + test::unique_suffix());
    std::filesystem::create_directories(dir_);
    token_file_ = dir_ / "token";
    std::ofstream(token_file_) << kToken << "\n";
    std::filesystem::permissions(
        token_file_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  void TearDown() override {
    if (api_.process) {
      EXPECT_EQ(stop(*api_.process), "");
    }
    if (!HasFailure()) {
      test::delete_topics({topic_});
      std::filesystem::remove_all(dir_);
    }
  }

  void start(const std::string& command, std::vector<std::string> args) {
    const std::string topic_option = command == "tick-api" ? "--input-topic" : "--output-topic";
    args.insert(args.end(), {topic_option, topic_});
    api_ = start_service(command, std::move(args), command + "-" + topic_);
  }

  // Every record of the topic once nothing more came for two seconds.
  std::vector<test::Record> records() {
    test::ConsumeOptions options;
    options.idle = seconds(2);
    options.deadline = deadline_in(seconds(30));
    return test::consume_all(topic_, options);
  }

  // A self-signed certificate for 127.0.0.1 and its key, made by the openssl tool.
  void make_certificate(const std::string& name) {
    const std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout '" +
        (dir_ / (name + ".key")).string() + "' -out '" + (dir_ / (name + ".crt")).string() +
        "' >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }

  std::string topic_;
  std::filesystem::path dir_;
  std::filesystem::path token_file_;
  Service api_;
};

TEST_F(ApiSecurity, TickApiNeedsTheTokenExceptOnProbesAndMetrics) {
  start("tick-api", {"--auth-token-file", token_file_.string()});
  auto client = api_.client();
  const std::string tick = "/tick?process_name=auth&process_activity=login";

  auto res = client.Post(tick);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(json::parse(res->body), (json{{"detail", "Not authenticated"}}));

  const std::vector<httplib::Headers> wrong = {
      {{"Authorization", "Bearer wrong"}},
      {{"Authorization", std::string("Bearer ") + kToken + "x"}},
      {{"Authorization", std::string("Basic ") + kToken}},
      {{"Authorization", std::string(kToken)}},
  };
  for (const auto& headers : wrong) {
    res = client.Post(tick, headers, "", "");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << headers.begin()->second;
    EXPECT_EQ(json::parse(res->body).at("detail"), "Invalid authentication credentials");
    // With a body: refused before the body is read, and the client still sees the 401.
    res = client.Post("/ticks", headers, R"([{"process_name":"x","process_activity":"y"}])",
                      "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 401);
  }
  res = client.Get("/nowhere");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << "unknown paths must not tell what exists";

  for (const char* open : {"/healthz", "/metrics"}) {
    res = client.Get(open);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << open;
  }
  const httplib::Headers good = {{"Authorization", std::string("Bearer ") + kToken}};
  res = client.Post(tick, good, "", "");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  res = client.Post("/tick", good, R"({"process_name":"auth","process_activity":"json"})",
                    "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(records().size(), 2U) << "only the authorised ticks may reach Kafka";

  // The token is nowhere to be seen: not in the log (the configuration shows the file),
  // not on the command line.
  const std::string log = read_file(api_.process->log_file());
  EXPECT_EQ(log.find(kToken), std::string::npos);
  EXPECT_NE(log.find("config: auth-token-file = " + token_file_.string()), std::string::npos)
      << log;
  EXPECT_NE(log.find("bearer token required"), std::string::npos) << log;
  const std::string cmdline =
      read_file("/proc/" + std::to_string(api_.process->pid()) + "/cmdline");
  EXPECT_FALSE(cmdline.empty());
  EXPECT_EQ(cmdline.find(kToken), std::string::npos);
}

TEST_F(ApiSecurity, BadTokenFileOrTlsFilesStopTheStartWithExitCode2) {
  const auto empty = dir_ / "empty";
  std::ofstream(empty).flush();
  make_certificate("a");
  make_certificate("b");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--auth-token-file", empty.string()}, "is empty"},
      {{"--auth-token-file", (dir_ / "missing").string()}, "cannot read"},
      {{"--tls-cert", (dir_ / "a.crt").string()}, "go together"},
      {{"--tls-cert", (dir_ / "a.crt").string(), "--tls-key", (dir_ / "b.key").string()},
       "is not the private key of the certificate"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> full = {"tick-api", "--port", "0"};
    full.insert(full.end(), args.begin(), args.end());
    ChildProcess api(auditor_binary(), full, dir_ / "bad-start.log");
    const auto status = api.wait(deadline_in(seconds(20)));
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->exited && status->code == 2) << status->describe();
    EXPECT_NE(api.log_tail().find(message), std::string::npos) << api.log_tail();
  }
}

TEST_F(ApiSecurity, TickApiOverHttps) {
  make_certificate("server");
  start("tick-api", {"--tls-cert", (dir_ / "server.crt").string(), "--tls-key",
                     (dir_ / "server.key").string(), "--auth-token-file", token_file_.string()});
  EXPECT_EQ(api_.scheme, "https");
  httplib::SSLClient tls("127.0.0.1", api_.port);
  tls.set_ca_cert_path((dir_ / "server.crt").c_str());
  tls.enable_server_certificate_verification(true);
  tls.set_connection_timeout(seconds(5));
  tls.set_read_timeout(seconds(10));
  const httplib::Headers good = {{"Authorization", std::string("Bearer ") + kToken}};
  for (int i = 0; i < 3; ++i) {  // keep-alive over TLS
    const auto res = tls.Post("/tick?process_name=tls&process_activity=on", good, "", "");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200) << res->body;
  }
  auto res = tls.Post("/tick?process_name=tls&process_activity=on");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = tls.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  // Plain HTTP to the TLS port gets no HTTP answer, and promptly.
  const auto started = Clock::now();
  auto plain = api_.client();
  plain.set_read_timeout(seconds(10));
  const auto refused = plain.Get("/healthz");
  EXPECT_FALSE(refused) << refused->status;
  EXPECT_LT(seconds_since(started), 3.0);
  EXPECT_EQ(records().size(), 3U);
}

TEST_F(ApiSecurity, OversizedBodiesAre413AndProduceNothing) {
  start("tick-api", {"--max-body", "64KiB"});
  auto client = api_.client();
  json batch = json::array();
  for (int i = 0; i < 400; ++i) {
    batch.push_back({{"process_name", "big-" + std::to_string(i) + std::string(200, 'p')},
                     {"process_activity", "a"}});
  }
  const std::string body = batch.dump();
  ASSERT_GT(body.size(), 65536U);

  // Declared length over the limit: refused before the body is read.
  auto res = client.Post("/ticks", body, "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(json::parse(res->body).at("detail"), "request body over 65536 bytes");
  // Far over it (8 MiB): the client still reads the answer.
  res = client.Post("/ticks", std::string(std::size_t{8} << 20U, ' '), "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 413);
  // Chunked, no length: cut off as it crosses the limit.
  res = client.Post(
      "/ticks",
      [&body](std::size_t offset, httplib::DataSink& sink) {
        if (offset < body.size()) {
          sink.write(body.data() + offset, std::min<std::size_t>(4096, body.size() - offset));
        } else {
          sink.done();
        }
        return true;
      },
      "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 413);
  // The rest of that body is left unread, so the connection closes; the answer must say
  // so, or the client writes its next request into the closing socket and gets no answer.
  EXPECT_EQ(res->get_header_value("Connection"), "close");
  // A single tick is held to 64 KiB as before.
  res = client.Post("/tick", json{{"process_name", std::string(70000, 'n')}}.dump(),
                    "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);

  res = client.Post("/tick?process_name=small&process_activity=ok");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  const auto all = records();
  ASSERT_EQ(all.size(), 1U) << "a refused body must produce nothing";
  EXPECT_EQ(json::parse(*all[0].value).at("process_name"), "small");
}

TEST_F(ApiSecurity, SlowClientsAreDroppedAtTheDeadlineWhileOthersAreServed) {
  // Request deadline 2 s; idle connections closed after 2 s.
  start("tick-api",
        {"--request-timeout", "2s", "--keep-alive-timeout", "2s", "--max-connections", "16"});
  std::atomic<bool> done{false};
  std::atomic<int> served{0};
  std::atomic<double> slowest{0};
  std::thread others([&] {
    auto client = api_.client();
    client.set_read_timeout(seconds(5));
    while (!done.load()) {
      const auto started = Clock::now();
      const auto res = client.Get("/healthz");
      if (res && res->status == 200) ++served;
      slowest = std::max(slowest.load(), seconds_since(started));
      std::this_thread::sleep_for(milliseconds(100));
    }
  });

  // Eight slowloris clients: a header byte every 300 ms, far within any per-read timeout.
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 8; ++i) {
    slow.push_back(std::make_unique<RawConnection>(api_.port));
    ASSERT_TRUE(slow.back()->connected());
    ASSERT_TRUE(
        slow.back()->send("POST /tick?process_name=slow&process_activity=loris HTTP/1.1\r\n"));
  }
  RawConnection idle(api_.port);  // connects and says nothing
  const auto started = Clock::now();
  std::vector<double> dropped_after(slow.size(), -1);
  double idle_after = -1;
  const std::string header = "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  for (std::size_t byte = 0; Clock::now() < started + seconds(10); ++byte) {
    if (idle_after < 0 && idle.closed_within(milliseconds(1))) idle_after = seconds_since(started);
    bool all_dropped = idle_after >= 0;
    for (std::size_t i = 0; i < slow.size(); ++i) {
      if (dropped_after[i] >= 0) continue;
      if (!slow[i]->send(std::string(1, header[byte % header.size()])) ||
          slow[i]->closed_within(milliseconds(1))) {
        dropped_after[i] = seconds_since(started);
      } else {
        all_dropped = false;
      }
    }
    if (all_dropped) break;
    std::this_thread::sleep_for(milliseconds(300));
  }
  done = true;
  others.join();

  double latest = 0;
  for (const double d : dropped_after) {
    EXPECT_GE(d, 0) << "a slowloris client was never dropped";
    latest = std::max(latest, d);
  }
  std::cout << "[ bound ] slowloris clients dropped after at most " << latest
            << " s (--request-timeout 2s); idle connection closed after " << idle_after
            << " s (--keep-alive-timeout 2s); " << served.load()
            << " other requests served meanwhile, slowest " << slowest.load() << " s\n";
  EXPECT_LT(latest, 3.5);
  EXPECT_GT(latest, 1.5);
  EXPECT_GE(idle_after, 0) << "the idle connection was never closed";
  EXPECT_LT(idle_after, 3.5);
  EXPECT_GT(served.load(), 10);
  EXPECT_LT(slowest.load(), 1.0);
  EXPECT_TRUE(records().empty()) << "a request that never finished must produce nothing";
}

TEST_F(ApiSecurity, ConnectionLimitAnswersAtOnceInsteadOfQueueing) {
  start("tick-api",
        {"--max-connections", "4", "--keep-alive-timeout", "60s", "--request-timeout", "60s"});
  // Idle connections (nothing sent) make room for a request: each newcomer closes one.
  {
    std::vector<std::unique_ptr<RawConnection>> idle;
    for (int i = 0; i < 4 + 3; ++i) {
      idle.push_back(std::make_unique<RawConnection>(api_.port));
      ASSERT_TRUE(idle.back()->connected());
    }
    std::this_thread::sleep_for(milliseconds(300));
    const auto started = Clock::now();
    auto client = api_.client();
    client.set_read_timeout(seconds(5));
    const auto res = client.Get("/healthz");
    const double took = seconds_since(started);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    std::cout << "[ bound ] with 7 idle connections open (--max-connections 4): a request "
                 "answered 200 in "
              << took << " s\n";
    EXPECT_LT(took, 2.0);
  }
  std::this_thread::sleep_for(milliseconds(300));  // the idle ones' threads end
  // Busy connections (a request half sent) hold their threads: the rest get 503 at once.
  std::vector<std::unique_ptr<RawConnection>> busy;
  for (int i = 0; i < 4; ++i) {
    busy.push_back(std::make_unique<RawConnection>(api_.port));
    ASSERT_TRUE(busy.back()->connected());
    ASSERT_TRUE(busy.back()->send("POST /tick?process_name=b&process_activity=c HTTP/1.1\r\n"));
  }
  std::this_thread::sleep_for(milliseconds(300));
  for (int i = 0; i < 3; ++i) {
    RawConnection extra(api_.port);
    ASSERT_TRUE(extra.connected());
    (void)extra.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(extra.closed_within(seconds(2)));
    EXPECT_EQ(extra.received().rfind("HTTP/1.1 503", 0), 0U) << extra.received();
  }
  const auto started = Clock::now();
  auto client = api_.client();
  client.set_read_timeout(seconds(5));
  auto res = client.Get("/healthz");
  const double took = seconds_since(started);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  std::cout << "[ bound ] with every connection busy: 503 in " << took << " s\n";
  EXPECT_LT(took, 1.0);
  // Once the busy ones are gone, the server serves again.
  busy.clear();
  const auto recovered_by = deadline_in(seconds(5));
  for (;;) {
    res = api_.client().Get("/healthz");
    if (res && res->status == 200) break;
    ASSERT_LT(Clock::now(), recovered_by) << "no 200 after the busy connections closed";
    std::this_thread::sleep_for(milliseconds(100));
  }
}

// A server-sent event stream, read with the token.
class EventStream {
 public:
  EventStream(int port, bool with_token)
      : thread_([this, port, with_token] {
          httplib::Client client("127.0.0.1", port);
          client.set_read_timeout(seconds(60));
          httplib::Headers headers;
          if (with_token) headers.emplace("Authorization", std::string("Bearer ") + kToken);
          const auto res = client.Get("/events", headers, [this](const char* data, std::size_t n) {
            const std::lock_guard lock(mutex_);
            text_.append(data, n);
            return !stop_.load();
          });
          status_ = res ? res->status : (stop_.load() ? -2 : -1);
        }) {}
  ~EventStream() {
    stop_ = true;
    thread_.join();
  }
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;
  std::size_t events() {
    const std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (auto at = text_.find("data: "); at != std::string::npos;
         at = text_.find("data: ", at + 1)) {
      ++n;
    }
    return n;
  }

 private:
  std::mutex mutex_;
  std::string text_;
  std::atomic<bool> stop_{false};
  std::atomic<int> status_{0};
  std::thread thread_;
};

std::string rollup(const std::string& process, std::int64_t count) {
  const auto now =
      std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const std::int64_t start = now / 60 * 60;
  std::array<char, 32> from{};
  std::array<char, 32> to{};
  const std::time_t a = start;
  const std::time_t b = start + 60;
  std::tm tm{};
  std::strftime(from.data(), from.size(), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&a, &tm));
  std::strftime(to.data(), to.size(), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&b, &tm));
  return json{{"process_name", process},
              {"process_activity", "a"},
              {"window", "1m"},
              {"window_start", from.data()},
              {"window_end", to.data()},
              {"count", count},
              {"ticks", 1},
              {"final", false}}
      .dump();
}

TEST_F(ApiSecurity, DashboardNeedsTheTokenAndKeepsLongStreamsWithinTheLimit) {
  start("dashboard", {"--auth-token-file", token_file_.string(), "--request-timeout", "1s",
                      "--keep-alive-timeout", "1s", "--max-connections", "3"});
  auto client = api_.client();
  auto res = client.Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer");
  res = client.Get("/api/view");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  for (const char* open : {"/healthz", "/metrics"}) {
    res = client.Get(open);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << open;
  }
  const httplib::Headers good = {{"Authorization", std::string("Bearer ") + kToken}};
  res = client.Get("/", good);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("<html"), std::string::npos);

  {
    EventStream refused(api_.port, false);
    std::this_thread::sleep_for(milliseconds(500));
    EXPECT_EQ(refused.events(), 0U);
  }
  // Two streams, each open longer than the request and keep-alive timeouts, and still
  // pushed to; they hold two of the three connections.
  EventStream first(api_.port, true);
  EventStream second(api_.port, true);
  const auto first_events_by = deadline_in(seconds(10));
  while (first.events() == 0 || second.events() == 0) {
    ASSERT_LT(Clock::now(), first_events_by) << "no first event";
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::this_thread::sleep_for(seconds(3));
  const std::size_t before = first.events();
  (void)test::produce(topic_, 0, std::string("k"), rollup("after-the-timeouts", 7));
  const auto pushed_by = deadline_in(seconds(15));
  while (first.events() == before || second.events() == before) {
    ASSERT_LT(Clock::now(), pushed_by) << "a long-lived stream was cut";
    std::this_thread::sleep_for(milliseconds(100));
  }
  // The third connection is the last one; a fourth is turned away while all are busy.
  RawConnection third(api_.port);
  ASSERT_TRUE(third.send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));  // busy: half a request
  std::this_thread::sleep_for(milliseconds(200));
  const auto started = Clock::now();
  res = api_.client().Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 503);
  EXPECT_LT(seconds_since(started), 1.0);
  EXPECT_EQ(read_file(api_.process->log_file()).find(kToken), std::string::npos);
  // Open streams do not hold up a stop; and the streams end with it.
  const auto stopping = Clock::now();
  EXPECT_EQ(stop(*api_.process), "");
  api_.process.reset();
  std::cout << "[ bound ] dashboard stopped with two open event streams in "
            << seconds_since(stopping) << " s\n";
}

}  // namespace
}  // namespace auditor::api_test
