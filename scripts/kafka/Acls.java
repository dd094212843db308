// Makes the secured local broker's ACLs match scripts/kafka/secure-acls.txt: for every
// principal named in the file, adds the missing bindings and deletes the others, so the
// broker grants exactly what the README documents. Run by scripts/kafka.sh as a
// single-file program (`java -cp '<broker lib>/*' Acls.java <admin.properties> <acl file>`)
// with the broker's own kafka-clients jar: nothing to build or download.
import java.io.FileReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;

public class Acls {
  private static ResourceType resourceType(String name) {
    switch (name.toLowerCase(Locale.ROOT)) {
      case "topic": return ResourceType.TOPIC;
      case "group": return ResourceType.GROUP;
      case "transactionalid": return ResourceType.TRANSACTIONAL_ID;
      case "cluster": return ResourceType.CLUSTER;
      default: throw new IllegalArgumentException("unknown resource type " + name);
    }
  }

  // One line: principal resource-type literal|prefixed name OP[,OP...]; # comments.
  private static Set<AclBinding> read(Path file) throws Exception {
    Set<AclBinding> bindings = new LinkedHashSet<>();
    int number = 0;
    for (String line : Files.readAllLines(file)) {
      ++number;
      String text = line.replaceAll("#.*", "").trim();
      if (text.isEmpty()) continue;
      String[] f = text.split("\\s+");
      if (f.length != 5) throw new IllegalArgumentException(file + ":" + number + ": expected 5 fields");
      ResourcePattern pattern = new ResourcePattern(resourceType(f[1]), f[3],
          PatternType.fromString(f[2].toUpperCase(Locale.ROOT)));
      for (String op : f[4].split(",")) {
        AclOperation operation = AclOperation.fromString(op);
        if (operation == AclOperation.UNKNOWN) {
          throw new IllegalArgumentException(file + ":" + number + ": unknown operation " + op);
        }
        bindings.add(new AclBinding(pattern,
            new AccessControlEntry(f[0], "*", operation, AclPermissionType.ALLOW)));
      }
    }
    return bindings;
  }

  public static void main(String[] args) throws Exception {
    Properties config = new Properties();
    try (FileReader in = new FileReader(args[0])) {
      config.load(in);
    }
    Set<AclBinding> wanted = read(Path.of(args[1]));
    Set<String> principals = new HashSet<>();
    for (AclBinding b : wanted) principals.add(b.entry().principal());
    try (Admin admin = Admin.create(config)) {
      List<AclBindingFilter> stale = new ArrayList<>();
      Set<AclBinding> present = new HashSet<>();
      for (String principal : principals) {
        AclBindingFilter mine = new AclBindingFilter(ResourcePatternFilter.ANY,
            new AccessControlEntryFilter(principal, null, AclOperation.ANY, AclPermissionType.ANY));
        for (AclBinding b : admin.describeAcls(mine).values().get()) {
          if (wanted.contains(b)) {
            present.add(b);
          } else {
            stale.add(b.toFilter());
          }
        }
      }
      List<AclBinding> missing = new ArrayList<>(wanted);
      missing.removeAll(present);
      if (!stale.isEmpty()) admin.deleteAcls(stale).all().get();
      if (!missing.isEmpty()) admin.createAcls(missing).all().get();
      System.out.println("kafka.sh: ACLs: " + wanted.size() + " for " + principals.size()
          + " principals (" + missing.size() + " added, " + stale.size() + " removed)");
    }
  }
}
